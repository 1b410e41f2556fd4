import { encodeParamValue, paramHeaders, scanParamDeclarations } from './param-headers';

describe('Mcp-Param headers (SEP-2243)', () => {
  const schema = {
    type: 'object',
    properties: {
      region: { type: 'string', 'x-mcp-header': 'Region' },
      target: {
        type: 'object',
        properties: { id: { type: 'integer', 'x-mcp-header': 'Target-Id' }, note: { type: 'string' } },
      },
      dryRun: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
      bad: { type: 'string', 'x-mcp-header': 'has space' },
      list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } },
    },
  };

  it('finds declarations along properties chains only, skipping invalid names', () => {
    expect(scanParamDeclarations(schema)).toEqual([
      { path: ['region'], headerName: 'Region' },
      { path: ['target', 'id'], headerName: 'Target-Id' },
      { path: ['dryRun'], headerName: 'Dry-Run' },
    ]);
  });

  it('mirrors present primitive arguments and omits absent or null ones', () => {
    const declarations = scanParamDeclarations(schema);
    expect(paramHeaders(declarations, { region: 'eu-west', target: { id: 42 }, dryRun: false })).toEqual({
      'Mcp-Param-Region': 'eu-west',
      'Mcp-Param-Target-Id': '42',
      'Mcp-Param-Dry-Run': 'false',
    });
    expect(paramHeaders(declarations, { region: null, target: {} })).toEqual({});
    expect(paramHeaders(declarations, undefined)).toEqual({});
  });

  it.each([
    ['eu-west', 'eu-west'],
    ['with space inside', 'with space inside'],
    [' padded', '=?base64?IHBhZGRlZA==?='],
    ['', '=?base64??='],
    ['Zürich', '=?base64?WsO8cmljaA==?='],
    ['line\nbreak', '=?base64?bGluZQpicmVhaw==?='],
    ['=?base64?abc?=', '=?base64?PT9iYXNlNjQ/YWJjPz0=?='],
  ])('encodes %j as %j', (value, encoded) => {
    expect(encodeParamValue(value)).toBe(encoded);
  });
});
