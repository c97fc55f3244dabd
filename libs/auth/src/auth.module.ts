import { Module } from '@nestjs/common';
import { ApiKeysService } from './api-keys.service.js';
import { AuditService } from './audit.service.js';
import { AuthLimiter } from './auth-limiter.js';

/** API keys, roles, the failed-authentication limiter and the audit writer. Needs StoreModule and RedisModule. */
@Module({
  providers: [ApiKeysService, AuditService, AuthLimiter],
  exports: [ApiKeysService, AuditService, AuthLimiter],
})
export class AuthModule {}

/** Without Redis (the CLI): keys and audit only. */
@Module({
  providers: [ApiKeysService, AuditService],
  exports: [ApiKeysService, AuditService],
})
export class AuthCoreModule {}
