import { Module } from '@nestjs/common';
import { RateLimitGate, RateLimitStage } from './rate-limit.stage';

/**
 * Rate limits in the call pipeline: {@link RateLimitGate} before policy, {@link RateLimitStage}
 * after it. Plug them in with `TransportModule.forRoot({ imports: [PolicyModule, RateLimitModule],
 * stages: [RateLimitGate, PolicyStage, RateLimitStage] })`.
 * Needs the global config, logger and metrics.
 */
@Module({
  providers: [RateLimitStage, RateLimitGate],
  exports: [RateLimitStage, RateLimitGate],
})
export class RateLimitModule {}
