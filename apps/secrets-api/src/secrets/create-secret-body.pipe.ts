import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { validationPipe } from '../common/pipes.js';
import { CREATE_SECRET_DTOS, CreateSecretDto } from './secret.dto.js';

/**
 * Validates a create body against its type's DTO (the `type` discriminator);
 * a missing or unknown type is answered by the common DTO, whose `type` rule
 * names the types there are. Errors keep the shape of every other body.
 */
@Injectable()
export class CreateSecretBodyPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const type = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as { type?: unknown }).type : undefined;
    const metatype = (typeof type === 'string' && CREATE_SECRET_DTOS.get(type)) || CreateSecretDto;
    return validationPipe.transform(value, { ...metadata, metatype });
  }
}
