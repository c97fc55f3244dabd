import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { QUEUE } from '@keyturn/contracts';
@Module({})
class AppModule {}
const app = await NestFactory.create(AppModule, new FastifyAdapter());
await app.listen(3000);
process.stdout.write(QUEUE + '\n');
await app.close();
