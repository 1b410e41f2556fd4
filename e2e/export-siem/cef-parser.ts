/**
 * An independent CEF reader for the tests (not the writer run backwards): splits the header on
 * unescaped `|`, then finds extension keys as the word before each unescaped `=`.
 */
export interface ParsedCef {
  header: string[];
  extension: Record<string, string>;
}

export function parseCef(line: string): ParsedCef {
  const header: string[] = [];
  let field = '';
  let i = 0;
  while (header.length < 7) {
    const c = line[i];
    if (c === undefined) throw new Error(`CEF header has ${header.length} of 7 fields: ${line}`);
    if (c === '\\') {
      field += line[i + 1] ?? '';
      i += 2;
    } else if (c === '|') {
      header.push(field);
      field = '';
      i += 1;
    } else {
      field += c;
      i += 1;
    }
  }
  const ext = line.slice(i);
  const equals: number[] = [];
  for (let j = 0; j < ext.length; j += 1) {
    if (ext[j] === '\\') j += 1;
    else if (ext[j] === '=') equals.push(j);
  }
  const extension: Record<string, string> = {};
  const keyStart = (at: number): number => {
    let k = at;
    while (k > 0 && /[A-Za-z0-9_.]/.test(ext[k - 1] ?? '')) k -= 1;
    return k;
  };
  equals.forEach((at, n) => {
    const start = keyStart(at);
    const next = equals[n + 1];
    const end = next === undefined ? ext.length : keyStart(next) - 1;
    extension[ext.slice(start, at)] = unescape(ext.slice(at + 1, end));
  });
  return { header, extension };
}

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}
