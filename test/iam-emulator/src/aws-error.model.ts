/** An error answered to the client in AWS's `<ErrorResponse>` shape. */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'AwsError';
  }

  get type(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

export const noSuchUser = (userName: string): AwsError =>
  new AwsError('NoSuchEntity', `The user with name ${userName} cannot be found.`, 404);

export const validationError = (message: string): AwsError =>
  new AwsError('ValidationError', `1 validation error detected: ${message}`, 400);
