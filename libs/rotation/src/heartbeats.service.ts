// Moved to libs/secrets (the API use cases); scheduling still imports this name from here.
export { heartbeatJobId } from '@keyturn/secrets';
