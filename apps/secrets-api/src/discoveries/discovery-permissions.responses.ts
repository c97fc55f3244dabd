import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DISCOVERY_ACTIONS } from '@keyturn/secret-types';
import { PermissionCheckResponse, PolicyDocumentResponse } from '../rotations/rotations.responses.js';

const ACTIONS = [...DISCOVERY_ACTIONS.required, ...DISCOVERY_ACTIONS.optional];

export class DiscoveryPermissionsResponse {
  @ApiProperty({ format: 'uuid' }) executorSecretId: string;
  @ApiProperty({ description: 'the IAM user whose key runs the discovery' }) executorUser: string;
  @ApiProperty({ example: '123456789012' }) accountId: string;
  @ApiProperty({ example: '/', description: 'the IAM path the discovery lists users under' }) pathPrefix: string;
  @ApiProperty({ type: PolicyDocumentResponse, description: 'attach to the executor: exactly what a discovery needs' }) policy: PolicyDocumentResponse;
  @ApiProperty({ type: PolicyDocumentResponse, description: 'optional extras (SimulatePrincipalPolicy on itself, for ?check=true)' })
  recommended: PolicyDocumentResponse;
  @ApiProperty({ enum: ACTIONS, isArray: true, description: 'denied, a discovery run fails naming the action' }) requiredActions: string[];
  @ApiProperty({ enum: ACTIONS, isArray: true, description: 'denied, a run leaves that datum out and warns' }) optionalActions: string[];
  @ApiPropertyOptional({ type: PermissionCheckResponse, description: 'with ?check=true: each action simulated on the resource IAM checks it against' })
  check?: PermissionCheckResponse;
}
