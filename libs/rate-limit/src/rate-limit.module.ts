import { Module } from '@nestjs/common';
import { REQUEST_BYTES_BUDGET } from '@gatehouse/transport';
import { RateLimitGate, RateLimitStage } from './rate-limit.stage';

/**
 * Rate limits in the call pipeline: {@link RateLimitGate} before policy, {@link RateLimitStage}
 * after it. Plug them in with `TransportModule.forRoot({ imports: [PolicyModule, RateLimitModule],
 * stages: [RateLimitGate, PolicyStage, RateLimitStage] })`.
 * Needs the global config, logger and metrics.
 */
@Module({
  providers: [
    RateLimitStage,
    RateLimitGate,
    // The front door's request-byte budget (TransportModule injects it when this module is imported).
    { provide: REQUEST_BYTES_BUDGET, useExisting: RateLimitStage },
  ],
  exports: [RateLimitStage, RateLimitGate, REQUEST_BYTES_BUDGET],
})
export class RateLimitModule {}
