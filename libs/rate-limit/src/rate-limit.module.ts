import { Module } from '@nestjs/common';
import { RateLimitStage } from './rate-limit.stage';

/**
 * Rate limits in the call pipeline ({@link RateLimitStage}), after policy: plug it in with
 * `TransportModule.forRoot({ imports: [PolicyModule, RateLimitModule], stages: [PolicyStage, RateLimitStage] })`.
 * Needs the global config, logger and metrics.
 */
@Module({
  providers: [RateLimitStage],
  exports: [RateLimitStage],
})
export class RateLimitModule {}
