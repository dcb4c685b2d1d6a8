import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A temporary workspace made of the given files (path → content). */
export function tempWorkspace(files: Record<string, string>): { dir: string; write(path: string, content: string): void; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-ws-'));
  const write = (path: string, content: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  };
  for (const [path, content] of Object.entries(files)) write(path, content);
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A copy of this repository's own example workspace. Its contact policy
 * (quiet hours at night, a weekly cap) is left out unless asked for: with it,
 * a test that sends on the real clock would pass by day and fail by night.
 * The policy has tests of its own, on an injected clock.
 */
export function exampleWorkspace(opts: { policy?: boolean } = {}): ReturnType<typeof tempWorkspace> {
  const ws = tempWorkspace({});
  for (const part of ['herald.yaml', 'segments', 'lists', 'templates', 'campaigns', 'triggers']) {
    cpSync(join(repoRoot, part), join(ws.dir, part), { recursive: true });
  }
  if (!opts.policy) {
    const file = join(ws.dir, 'herald.yaml');
    const yaml = readFileSync(file, 'utf8');
    const stripped = yaml.replace(/^ {2}(quiet_hours|frequency_cap):.*\n/gm, '');
    if (stripped === yaml) throw new Error('exampleWorkspace: herald.yaml no longer has the defaults it strips');
    writeFileSync(file, stripped);
  }
  return ws;
}

/** A minimal valid workspace to start each validation case from. */
export const MINIMAL: Record<string, string> = {
  'herald.yaml': `sites:
  - id: main
    name: Main
    url: https://shop.example.com
    locales: [en]
    default_locale: en
    currency: EUR
    sender:
      from: news@shop.example.com
    postal_address: Main Ltd, 1 Example Street, 10115 Berlin, Germany
tracking:
  base_url: https://mail.example.com
`,
  'segments/everyone.yaml': `where:
  order_count: { gte: 0 }
`,
  'templates/hello/template.yaml': `subject:
  en: Hello {{ customer.first_name }}
`,
  'templates/hello/en.mjml': `<mjml><mj-body><mj-section><mj-column><mj-text>{{ greeting }} <a href="{{ links.unsubscribe }}">unsubscribe</a> {{ site.postal_address }}</mj-text></mj-column></mj-section></mj-body></mjml>
`,
  'campaigns/hello.yaml': `title: Hello
site: main
audience:
  segment: everyone
template: hello
status: ready
`,
};
