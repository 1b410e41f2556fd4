import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type Pair,
} from 'yaml';
import type { PolicyProblem, SourcePosition } from '../types';
import { closest } from '@gatehouse/config';

/** A YAML node (or a missing one) with what is needed to report problems at its position. */
export type YamlNode = Node | null | undefined;

/**
 * Reads one YAML file node by node, collecting problems with file, line and column (1-based),
 * as the configuration loader does with the `yaml` package's LineCounter.
 */
export class YamlReader {
  readonly problems: PolicyProblem[] = [];
  readonly root: YamlNode;

  private constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    doc: Document | undefined,
  ) {
    this.root = doc?.contents;
  }

  /** Parses the text; syntax errors become problems and leave `root` undefined. */
  static open(file: string, text: string): YamlReader {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length === 0) return new YamlReader(file, lines, doc);
    const reader = new YamlReader(file, lines, undefined);
    const seen = new Set<string>();
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      // One mistake often yields several parser errors at the same spot; the first says most.
      if (seen.has(`${pos.line}:${pos.col}`)) continue;
      seen.add(`${pos.line}:${pos.col}`);
      const message = e.code === 'DUPLICATE_KEY' ? 'this key appears twice in the same mapping' : e.message;
      reader.problems.push({ file, line: pos.line, column: pos.col, message: `YAML: ${firstLine(message)}` });
    }
    return reader;
  }

  at(node: YamlNode): SourcePosition {
    const offset = node?.range?.[0];
    if (offset === undefined) return { file: this.file, line: 1, column: 1 };
    const pos = this.lines.linePos(offset);
    return { file: this.file, line: pos.line, column: pos.col };
  }

  problem(node: YamlNode, message: string): void {
    this.problems.push({ ...this.at(node), message });
  }

  /**
   * The entries of a mapping whose keys are all in `known`; unknown keys are reported with the
   * nearest known one. Returns undefined (after reporting) when the node is not a mapping.
   */
  entries(
    node: YamlNode,
    what: string,
    known: readonly string[],
  ): Map<string, Pair<Node, YamlNode>> | undefined {
    if (!isMap(node)) {
      this.problem(node, `${what} must be a mapping of ${known.map((k) => `"${k}"`).join(', ')}`);
      return undefined;
    }
    const out = new Map<string, Pair<Node, YamlNode>>();
    for (const pair of node.items as Pair<Node, YamlNode>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || !known.includes(key)) {
        const hint = key === undefined ? undefined : closest(key, known);
        this.problem(
          pair.key,
          `unknown key ${key === undefined ? '(not a plain name)' : `"${key}"`} in ${what}` +
            (hint
              ? `; did you mean "${hint}"?`
              : `; expected one of ${known.map((k) => `"${k}"`).join(', ')}`),
        );
        continue;
      }
      if (pair.value === null || pair.value === undefined) {
        this.problem(pair.key, `"${key}" in ${what} has no value; give it one or remove the key`);
        continue;
      }
      out.set(key, pair);
    }
    return out;
  }

  /** A scalar string (numbers and booleans are read as their text, e.g. tag values `v: 2`). */
  scalar(node: YamlNode, what: string): string | undefined {
    const value: unknown = isScalar(node) ? node.value : undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    this.problem(node, `${what} must be a string`);
    return undefined;
  }

  /** A non-empty string. */
  string(node: YamlNode, what: string): string | undefined {
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.problem(node, `${what} must be a string${describeValue(node)}`);
      return undefined;
    }
    if (node.value.trim() === '') {
      this.problem(node, `${what} must not be empty`);
      return undefined;
    }
    return node.value;
  }

  /** A string or a list of strings, each with its node (for positions of later checks). */
  stringList(node: YamlNode, what: string): { value: string; node: YamlNode }[] | undefined {
    if (isSeq(node)) {
      if (node.items.length === 0) {
        this.problem(node, `${what} must not be an empty list`);
        return undefined;
      }
      const out: { value: string; node: YamlNode }[] = [];
      let ok = true;
      for (const item of node.items as YamlNode[]) {
        const value = this.string(item, `each entry of ${what}`);
        if (value === undefined) ok = false;
        else out.push({ value, node: item });
      }
      return ok ? out : undefined;
    }
    const value = this.string(node, `${what} (a string or a list of strings)`);
    return value === undefined ? undefined : [{ value, node }];
  }

  /** A sequence's items, or undefined (after reporting) when the node is not a list. */
  items(node: YamlNode, what: string): YamlNode[] | undefined {
    if (!isSeq(node)) {
      this.problem(node, `${what} must be a list`);
      return undefined;
    }
    return node.items as YamlNode[];
  }
}

function describeValue(node: YamlNode): string {
  if (isMap(node)) return ', not a mapping';
  if (isSeq(node)) return ', not a list';
  if (isScalar(node)) {
    if (node.value === null) return ', but it has no value';
    return `, not ${typeof node.value} ${JSON.stringify(node.value)}`;
  }
  return '';
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
