import { expect, test } from '@jest/globals';
import {
  canApprove,
  canReview,
  canRevoke,
  canWrite,
  confirmText,
  defaultChoice,
  durationPhrase,
  openBody,
  type Grant,
  type Viewer,
} from './words';

const erin: Viewer = { sub: 'erin', name: 'Erin Evans', roles: ['incident-responder'] };
const carol: Viewer = { sub: 'carol', name: 'Carol Chen', roles: ['admin'] };
const bob: Viewer = { sub: 'bob', name: 'Bob Brown', roles: ['incident-responder'] };
const frank: Viewer = { sub: 'frank', name: 'Frank Fischer', roles: ['auditor'] };
const dave: Viewer = { sub: 'dave', name: 'Dave Diaz', roles: ['policy-approver'] };

function grant(status: Grant['status'], extra: Partial<Grant> = {}): Grant {
  return {
    id: '7b0c4a52-8a43-4b43-9f0e-0d6d0f6f2c11',
    status,
    effective: status === 'active',
    mode: status === 'pending-approval' ? 'approval-first' : 'immediate',
    reason: 'INC-1 database down',
    incident: null,
    scope: { servers: [], tools: [] },
    covers: { everyone: false, users: ['bob'], groups: [] },
    lifts: { policyDenies: true, rateLimits: false },
    durationSeconds: 3600,
    openedBy: { subject: 'erin', name: 'Erin Evans' },
    openedAt: '2026-12-08T09:00:00Z',
    activatedAt: status === 'pending-approval' ? null : '2026-12-08T09:00:00Z',
    expiresAt: '2026-12-08T10:00:00Z',
    approvedBy: null,
    approvedAt: null,
    revokedBy: null,
    revokedAt: null,
    review: { required: true, dueAt: null, overdue: false, reviewedAt: null, reviewedBy: null, note: null },
    ...extra,
  };
}

test('the UI offers only what the server allows: four eyes for approval and review', () => {
  const pending = grant('pending-approval');
  expect(canApprove(pending, erin)).toBe(false); // the opener
  expect(canApprove(pending, bob)).toBe(false); // named in users
  expect(canApprove(pending, carol)).toBe(true);
  expect(canApprove(pending, frank)).toBe(false); // auditors read and review only
  expect(canApprove(grant('active'), carol)).toBe(false);

  const active = grant('active');
  expect(canReview(active, erin)).toBe(false);
  expect(canReview(active, bob)).toBe(false);
  expect(canReview(active, frank)).toBe(true);
  expect(canReview(active, dave)).toBe(false); // policy-approver is not a bypass role
  expect(canReview(pending, frank)).toBe(false); // never took effect: revoke it instead
  const reviewed = grant('expired', {
    review: {
      required: true,
      dueAt: null,
      overdue: false,
      reviewedAt: '2026-12-08T10:00:00Z',
      reviewedBy: { subject: 'frank', name: null },
      note: 'checked the calls',
    },
  });
  expect(canReview(reviewed, carol)).toBe(false);

  expect(canRevoke(active, erin)).toBe(true);
  expect(canRevoke(pending, carol)).toBe(true);
  expect(canRevoke(active, frank)).toBe(false);
  expect(canRevoke(grant('expired'), carol)).toBe(false);
  expect(canRevoke(grant('revoked'), carol)).toBe(false);

  expect([erin, carol, frank, dave].map(canWrite)).toEqual([true, true, false, false]);
});

test('the request carries exactly what the words state', () => {
  const choice = { ...defaultChoice(), reason: '  payments DB failover blocks the restore  ' };
  expect(openBody(choice)).toEqual({
    reason: 'payments DB failover blocks the restore',
    servers: ['*'],
    tools: ['*'],
    durationSeconds: 3600,
    liftRateLimits: false,
    requireApproval: false,
  });
  expect(confirmText(choice, erin)).toBe('Open bypass for Erin Evans (you), all servers, 1 hour');
  const everyone = {
    ...choice,
    coverage: 'everyone' as const,
    servers: ['files', 'db-*'],
    durationMinutes: 90,
  };
  expect(openBody(everyone)).toMatchObject({
    everyone: true,
    servers: ['files', 'db-*'],
    durationSeconds: 5400,
  });
  expect(confirmText(everyone, erin)).toBe(
    'Open bypass for everyone, servers files and db-*, 1 hour 30 minutes',
  );
  const people = { ...choice, coverage: 'people' as const, users: ['bob'], groups: ['support'] };
  expect(confirmText(people, erin)).toBe('Open bypass for bob and group support, all servers, 1 hour');
});

test('durations read as words', () => {
  expect([1, 30, 60, 61, 120, 480].map(durationPhrase)).toEqual([
    '1 minute',
    '30 minutes',
    '1 hour',
    '1 hour 1 minute',
    '2 hours',
    '8 hours',
  ]);
});
