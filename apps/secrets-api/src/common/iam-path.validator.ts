import { ValidateBy, type ValidationOptions } from 'class-validator';
import { isIamPath } from '@keyturn/contracts';

/** The message of a field that is not an IAM path; the field is named by the caller's property. */
export const IAM_PATH_MESSAGE = (property: string) =>
  `${property} must be an IAM path: "/" or printable ASCII between slashes, like /division/team/ (at most 512 characters)`;

/** class-validator: the value is an IAM path ("/", "/eng/", "/eng/team/"), as IAM's CreateUser accepts one. */
export function IsIamPath(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIamPath',
      validator: { validate: (value: unknown) => isIamPath(value), defaultMessage: (args) => IAM_PATH_MESSAGE(args?.property ?? 'path') },
    },
    options,
  );
}
