import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { KeyturnConfig } from '@keyturn/config';
import { AppModule } from './app.module.js';

/** The OpenAPI document of the API, from the controllers' decorators (served at /docs/openapi.json). */
export function createOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const info = new DocumentBuilder()
    .setTitle('Keyturn')
    .setDescription('Credential vault and rotation server for AWS IAM access keys and console passwords')
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API key, kt_…' })
    .build();
  return SwaggerModule.createDocument(app, info);
}

/**
 * The same document without a running API: Nest's preview mode builds the module
 * graph but instantiates no provider, so nothing connects to Postgres or Redis.
 */
export async function generateOpenApiDocument(config: KeyturnConfig): Promise<OpenAPIObject> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), new FastifyAdapter(), {
    preview: true,
    logger: false,
    abortOnError: false,
  });
  try {
    return createOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
