// Moved to libs/secrets (the API use cases); scheduling still imports these names from here.
export { RotationsService, rotationJobId } from '@keyturn/secrets';
