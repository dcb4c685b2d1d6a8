import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

describe('herald init', () => {
  it('prints what it created, and the new workspace validates', async () => {
    const ws = tempWorkspace({});
    cleanup(ws.remove);
    const target = join(ws.dir, 'shop-emails');

    const init = await herald(['init', target]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`Created a herald workspace in ${target}:\n`);
    for (const f of ['herald.yaml', 'segments/lapsed.yaml', 'lists/fair-visitors.csv', 'templates/hello/en.mjml', 'templates/_partials/footer.mjml', 'campaigns/spring-news.yaml', 'triggers/welcome.yaml', '.vscode/settings.json', '.github/workflows/herald-pr.yml', 'schemas/campaign.schema.json']) {
      expect(init.stdout).toContain(`\n  + ${f}\n`);
    }
    expect(init.stdout).toContain(`cd ${target}\n  herald validate\n`);

    const validate = await herald(['validate', '--dir', target]);
    expect(validate).toMatchObject({ code: 0, stdout: 'The workspace is valid.\n' });
  });

  it('refuses to overwrite an existing workspace, with a message and no stack trace', async () => {
    const ws = tempWorkspace({ 'herald.yaml': 'sites: []\n' });
    cleanup(ws.remove);
    const again = await herald(['init', '--dir', ws.dir]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain(`herald: ${ws.dir} already has a herald.yaml; herald init never overwrites a workspace\n  hint: `);
    expect(again.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
