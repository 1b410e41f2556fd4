import type { CompiledPolicy, ParseResult, PolicyDocument, PolicyFile } from '../types';

/**
 * The language and the engine as the lifecycle uses them: parse files into a document, compile a
 * document into a policy that decides. The module binds it to `parsePolicy` and `compilePolicy`.
 */
export abstract class PolicyCompiler {
  abstract parse(files: PolicyFile[]): ParseResult;
  abstract compile(document: PolicyDocument, version: number): CompiledPolicy;
}
