import { principalKey } from '@gatehouse/auth';
import type { Logger } from '@gatehouse/observability';
import type { CallContext } from './call-context';
import { TransportError, TransportErrorCode } from './jsonrpc';
import { qualify, unqualify } from './namespace';
import { taskOwnerTtlMs, type TaskOwnerRecord, type TaskOwners } from './session/task-owners';

/** The task methods that name one task; `tasks/list` is a list, narrowed to the caller's own. */
export const TASK_LOOKUPS = new Set(['tasks/get', 'tasks/result', 'tasks/cancel']);
const RELATED_TASK = 'io.modelcontextprotocol/related-task';
const MAX_TASK_ID = 1024;

type Result = Record<string, unknown>;

/**
 * Task ownership (issue 13.3). An upstream's task ids are its own, and a shared upstream (every
 * 2026-07-28 client, and 2025 sessions on `sharing: shared`) holds everyone's tasks on one
 * connection: left alone, any caller could read, cancel or list anyone's task. So the gateway
 * records who created each task, with the request that created it, when the upstream answers with
 * a CreateTaskResult; a task call is routed only to the caller's own task and decided by the
 * policy as that request again. An unknown id, someone else's id and an id the gateway never saw
 * created get one and the same answer, so the answer says nothing about other people's tasks.
 */
export class TaskOwnership {
  constructor(
    private readonly owners: TaskOwners,
    private readonly logger: Logger,
  ) {}

  /**
   * tasks/get, tasks/result, tasks/cancel: routes the call to the upstream of the caller's own
   * task (on the aggregated endpoint task ids are `<server>__<id>`) and sets `call.task`, or
   * refuses it as not found.
   */
  async route(call: CallContext): Promise<void> {
    const raw = call.request.params?.taskId;
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_TASK_ID) {
      throw new TransportError(
        TransportErrorCode.INVALID_PARAMS,
        `${call.request.method}: taskId must be a string of 1 to ${MAX_TASK_ID} characters`,
      );
    }
    let server = call.target;
    let taskId = raw;
    if (call.target === '*') {
      const parsed = unqualify(raw);
      if (!parsed) throw notFound();
      server = parsed.server;
      taskId = parsed.name;
    }
    const record = await this.lookup(() => this.owners.get(server, taskId));
    if (!record || record.owner !== principalKey(call.principal)) {
      if (record) {
        this.logger.warn(
          { server, method: call.request.method, presentedBy: call.principal.subject },
          'task id presented by a principal that does not own it; refused as not found',
        );
      }
      throw notFound();
    }
    call.server = server;
    call.upstreamParams = { ...call.request.params, taskId };
    call.task = { taskId, createdBy: record.createdBy };
  }

  /**
   * After the upstream answered: records the owner of a task it created, keeps only the caller's
   * own tasks in `tasks/list`, and qualifies task ids on the aggregated endpoint.
   */
  async settle(call: CallContext, result: Result): Promise<Result> {
    if (call.request.method === 'tasks/list') return this.ownOnly(call, result);
    const server = call.server;
    if (!server || server === '*') return result;
    if (!call.task) {
      const sent = call.upstreamParams ?? call.request.params ?? {};
      const created = result.task as Result | undefined;
      // Only an answer to a request that asked for a task creates one: an upstream that sends a
      // task unasked gets nothing recorded, so nobody can use it.
      if (!isRecord(sent.task) || !isRecord(created) || typeof created.taskId !== 'string') return result;
      await this.claim(call, server, sent, created);
    }
    return call.target === '*' ? qualifyTaskIds(server, result) : result;
  }

  private async claim(call: CallContext, server: string, sent: Result, created: Result): Promise<void> {
    const { task: _task, _meta, ...params } = sent;
    const record: TaskOwnerRecord = {
      owner: principalKey(call.principal),
      server,
      taskId: created.taskId as string,
      createdBy: { method: call.request.method, params },
      createdAt: Date.now(),
    };
    const claimed = await this.lookup(() => this.owners.claim(record, taskOwnerTtlMs(created.ttl)));
    if (!claimed) {
      // The upstream handed out an id another principal already holds: never let it change hands.
      this.logger.error(
        { server, principal: call.principal.subject },
        'upstream reused a task id that belongs to another principal; the new task is refused',
      );
      throw new TransportError(
        TransportErrorCode.UPSTREAM_UNAVAILABLE,
        `upstream "${server}" returned a task id that is already in use; the task cannot be used`,
      );
    }
  }

  /**
   * `notifications/tasks/status` carries a task's status and message: only sessions of the
   * task's owner hear it (a shared upstream sends it unasked, to nobody in particular).
   */
  async mayHear(sessionOwner: string, server: string, params: Result | undefined): Promise<boolean> {
    const taskId = params?.taskId;
    if (typeof taskId !== 'string') return false;
    const record = await this.owners.get(server, taskId).catch(() => undefined);
    return record?.owner === sessionOwner;
  }

  /** tasks/list: the upstream lists every task on the connection; the caller sees only their own. */
  private async ownOnly(call: CallContext, result: Result): Promise<Result> {
    const tasks = result.tasks;
    if (!Array.isArray(tasks)) return result;
    const keys = tasks.map((task: unknown) => {
      const id = isRecord(task) && typeof task.taskId === 'string' ? task.taskId : undefined;
      if (id === undefined) return undefined;
      if (call.target !== '*') return { server: call.target, taskId: id };
      const parsed = unqualify(id);
      return parsed ? { server: parsed.server, taskId: parsed.name } : undefined;
    });
    const known = keys.filter((k): k is { server: string; taskId: string } => k !== undefined);
    const records = await this.lookup(() => this.owners.getMany(known));
    const me = principalKey(call.principal);
    const mine = new Set(records.filter((r) => r?.owner === me).map((r) => `${r?.server}\u0000${r?.taskId}`));
    const kept = tasks.filter((_task: unknown, i: number) => {
      const key = keys[i];
      return key !== undefined && mine.has(`${key.server}\u0000${key.taskId}`);
    });
    return { ...result, tasks: kept };
  }

  /** The store is Redis: when it does not answer, no task call can be checked, so none proceeds. */
  private async lookup<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      this.logger.error({ err }, 'task ownership store unreachable; the task call is refused');
      throw new TransportError(
        TransportErrorCode.UPSTREAM_UNAVAILABLE,
        'task ownership cannot be checked right now (the session store does not answer); retry shortly',
      );
    }
  }
}

/** The one answer for an unknown task, someone else's task and a task the gateway never saw created. */
function notFound(): TransportError {
  return new TransportError(
    TransportErrorCode.INVALID_PARAMS,
    'task not found: no task with this id is yours on this endpoint (it may have expired)',
  );
}

/** Aggregated endpoint: every task id a client sees is `<server>__<id>`, as tool names are. */
function qualifyTaskIds(server: string, result: Result): Result {
  const out: Result = { ...result };
  if (typeof out.taskId === 'string') out.taskId = qualify(server, out.taskId);
  if (isRecord(out.task) && typeof out.task.taskId === 'string') {
    out.task = { ...out.task, taskId: qualify(server, out.task.taskId) };
  }
  const meta = out._meta;
  if (isRecord(meta) && isRecord(meta[RELATED_TASK])) {
    const related = meta[RELATED_TASK];
    if (typeof related.taskId === 'string') {
      out._meta = { ...meta, [RELATED_TASK]: { ...related, taskId: qualify(server, related.taskId) } };
    }
  }
  return out;
}

function isRecord(value: unknown): value is Result {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
