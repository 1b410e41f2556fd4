import type { PolicyFile } from '../types';
import type { PolicyAction, PolicyEvent } from './policy-event.entity';
import type { PolicyStatus, PolicyVersion } from './policy-version.entity';

/** Who did something: the subject is what four-eyes compares, the name is for people. */
export interface Actor {
  subject: string;
  name: string | null;
}

/** A step of a version: who and when. */
export interface Step {
  by: Actor;
  at: Date;
}

/** A version without its file texts (lists). */
export interface PolicyVersionSummary {
  number: number;
  status: PolicyStatus;
  message: string;
  author: Actor;
  createdAt: Date;
  /** Paths of its files, relative to the policy directory. */
  paths: string[];
  proposed: Step | null;
  approved: Step | null;
  rejected: Step | null;
  /** The last activation or rollback to this version. */
  activated: Step | null;
  superseded: { at: Date; by: number | null } | null;
}

/** One entry of a version's history. */
export interface PolicyEventView {
  action: PolicyAction;
  actor: Actor;
  at: Date;
  comment: string | null;
}

/** A version with its files and its whole history. */
export interface PolicyVersionDetail extends PolicyVersionSummary {
  files: PolicyFile[];
  history: PolicyEventView[];
}

/** The changes between two versions, one unified diff per changed file. */
export interface PolicyDiff {
  from: number;
  to: number;
  files: Array<{ path: string; change: 'added' | 'removed' | 'modified'; patch: string }>;
}

/** What a replica enforces right now. */
export interface ActivePolicyView {
  /** The version this replica decides with; null when there is none (every call is denied). */
  version: number | null;
  /** When this replica loaded it. */
  loadedAt: Date | null;
  /** That version's record, when there is one. */
  details: PolicyVersionSummary | null;
}

function step(subject: string | null, name: string | null, at: Date | null): Step | null {
  return subject !== null && at !== null ? { by: { subject, name }, at } : null;
}

export function summaryOf(v: PolicyVersion): PolicyVersionSummary {
  return {
    number: v.number,
    status: v.status,
    message: v.message,
    author: { subject: v.authorSubject, name: v.authorName },
    createdAt: v.createdAt,
    paths: Object.keys(v.files).sort(),
    proposed: step(v.proposedBySubject, v.proposedByName, v.proposedAt),
    approved: step(v.approvedBySubject, v.approvedByName, v.approvedAt),
    rejected: step(v.rejectedBySubject, v.rejectedByName, v.rejectedAt),
    activated: step(v.activatedBySubject, v.activatedByName, v.activatedAt),
    superseded: v.supersededAt !== null ? { at: v.supersededAt, by: v.supersededBy } : null,
  };
}

export function detailOf(v: PolicyVersion, events: PolicyEvent[]): PolicyVersionDetail {
  return {
    ...summaryOf(v),
    files: filesOf(v),
    history: events.map((e) => ({
      action: e.action,
      actor: { subject: e.actorSubject, name: e.actorName },
      at: e.at,
      comment: e.comment,
    })),
  };
}

/** The stored files as the parser takes them, in path order. */
export function filesOf(v: Pick<PolicyVersion, 'files'>): PolicyFile[] {
  return Object.keys(v.files)
    .sort()
    .map((path) => ({ path, text: v.files[path] ?? '' }));
}
