import { workflowFiles } from './workflows.js';

/**
 * What `herald init` writes: a small workspace with one example of every kind
 * of file, the editor settings, and the GitHub Actions workflows, which get
 * herald from its action pinned by tag or commit (no package.json, no
 * registry). The content is embedded here, not read from files, so it ships
 * inside dist/. Everything is a pure function of the inputs; init.ts does
 * the writing.
 */
export interface ScaffoldInput {
  /** herald's own version, named in the README. */
  heraldVersion: string;
  /** `owner/repo@ref` of herald's action, which the workflows use. */
  action: string;
  /** schemas/<file> → content, copied in so the editor modelines resolve without a network. */
  schemas: Record<string, string>;
}

/** Path (relative, forward slashes) → content of every file of a new workspace. */
export function scaffoldFiles(input: ScaffoldInput): Record<string, string> {
  const files: Record<string, string> = {
    'herald.yaml': HERALD_YAML,
    'segments/lapsed.yaml': SEGMENT,
    'lists/fair-visitors.yaml': LIST,
    'lists/fair-visitors.csv': LIST_CSV,
    'templates/hello/template.yaml': TEMPLATE_YAML,
    'templates/hello/en.mjml': TEMPLATE_EN,
    'templates/_partials/footer.mjml': FOOTER,
    'campaigns/spring-news.yaml': CAMPAIGN,
    'triggers/welcome.yaml': TRIGGER,
    '.vscode/settings.json': json(VSCODE_SETTINGS),
    '.vscode/extensions.json': json(VSCODE_EXTENSIONS),
    '.gitignore': GITIGNORE,
    'README.md': readme(input),
    ...workflowFiles({ action: input.action, environments: ['staging', 'production'], branch: 'main' }),
  };
  for (const [file, text] of Object.entries(input.schemas)) files[`schemas/${file}`] = text;
  return files;
}

/**
 * Maps each kind of file to its schema, so the YAML extension completes keys
 * and marks mistakes even in a file without a modeline. The repository's own
 * .vscode/settings.json is the same (a test keeps them equal).
 */
export const VSCODE_SETTINGS = {
  'yaml.schemas': {
    './schemas/project.schema.json': ['herald.yaml'],
    './schemas/segment.schema.json': ['segments/*.yaml'],
    './schemas/list.schema.json': ['lists/*.yaml'],
    './schemas/template.schema.json': ['templates/*/template.yaml'],
    './schemas/preview.schema.json': ['templates/*/preview.yaml'],
    './schemas/push.schema.json': ['templates/*/push.*.yaml'],
    './schemas/campaign.schema.json': ['campaigns/*.yaml'],
    './schemas/trigger.schema.json': ['triggers/*.yaml'],
  },
};

export const VSCODE_EXTENSIONS = { recommendations: ['redhat.vscode-yaml'] };

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

const HERALD_YAML = `# yaml-language-server: $schema=schemas/project.schema.json
#
# Your shop: its storefronts, where its customer data lives, where links in
# messages point, and the defaults campaigns and triggers start from.
# Replace the example values with your own.

sites:
  - id: shop                       # matches customers.site in your shop data
    name: Example Shop
    url: https://shop.example.com
    locales: [en]                  # every template this site uses needs a body and subject for each
    default_locale: en
    currency: EUR
    sender:
      from: news@shop.example.com
      name: Example Shop
      reply_to: care@shop.example.com
    postal_address: Example Shop Ltd, 1 Example Street, 10115 Berlin, Germany
    brand:                         # {{ site.brand.<name> }} in templates
      logo_url: https://shop.example.com/logo.png
      primary_color: "#0b3954"

# Where herald reads customers, orders and products: see herald's
# docs/shop-data-contract.md for the tables or views it expects.
source:
  schema: shop

tracking:
  base_url: https://mail.shop.example.com   # where unsubscribe links point
  secret_env: HERALD_SECRET                 # the variable holding the link-signing secret

defaults:
  timezone: Europe/Berlin
  quiet_hours: { start: "21:00", end: "09:00" }
  frequency_cap: { max: 3, per: 7d }

environments:
  staging:
    database_url_env: HERALD_STAGING_DATABASE_URL
  production:
    database_url_env: HERALD_PRODUCTION_DATABASE_URL
`;

const SEGMENT = `# yaml-language-server: $schema=../schemas/segment.schema.json
description: Customers who have ordered before, but not in the last 180 days.
where:
  last_order: { before: 180d }
`;

const LIST = `# yaml-language-server: $schema=../schemas/list.schema.json
description: Visitors who left their address at our fair stand and agreed to hear from us.
file: fair-visitors.csv
site: shop
`;

const LIST_CSV = `email,first_name,last_name,locale,interest
ada@example.com,Ada,Lovelace,en,bags
grace@example.org,Grace,Hopper,en,shoes
alan@example.com,Alan,,en,outerwear
`;

const TEMPLATE_YAML = `# yaml-language-server: $schema=../../schemas/template.schema.json
description: A short note from the shop, with a personal greeting. Used by the campaign and the trigger.
subject:
  en: "{{ customer.first_name or 'Hello' }}, news from {{ site.name }}"
preheader:
  en: What is new this season, picked for you.
`;

const TEMPLATE_EN = `<mjml lang="en">
  <mj-head>
    <mj-title>{{ site.name }}</mj-title>
    <mj-preview>{{ preheader }}</mj-preview>
    <mj-attributes>
      <mj-all font-family="Helvetica, Arial, sans-serif" />
      <mj-text font-size="16px" line-height="24px" color="#1f2933" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#f4f5f7">
    <mj-section background-color="#ffffff" padding="24px 0 0">
      <mj-column>
        <mj-image src="{{ site.brand.logo_url }}" alt="{{ site.name }}" href="{{ site.url }}" width="160px" />
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="24px 0">
      <mj-column>
        <mj-text>{{ greeting }}</mj-text>
        <mj-text>Thank you for shopping at {{ site.name }}. Our new season is in, and we picked a few things we think you will like.</mj-text>
        <mj-button background-color="#0b3954" color="#ffffff" href="{{ site.url }}">Visit the shop</mj-button>
      </mj-column>
    </mj-section>
    <mj-include path="../_partials/footer.mjml" />
  </mj-body>
</mjml>
`;

const FOOTER = `<!-- Shared by every template: the postal address the law asks for, and the unsubscribe link. -->
<mj-section padding="16px 0 32px">
  <mj-column>
    <mj-text font-size="12px" line-height="18px" color="#6b7280" align="center">
      {{ site.postal_address }}<br />
      You receive this email because you shop at {{ site.name }}.
      <a href="{{ links.unsubscribe }}" style="color:#6b7280;">Unsubscribe</a>
    </mj-text>
  </mj-column>
</mj-section>
`;

const CAMPAIGN = `# yaml-language-server: $schema=../schemas/campaign.schema.json
# A newsletter. It is a draft: set status: ready, then \`herald apply\` and
# \`herald send spring-news\`, or add a schedule to send it at a time.
title: Spring news
site: shop
audience:
  segment: lapsed
  list: fair-visitors
template: hello
personalized_greeting: true
status: draft
`;

const TRIGGER = `# yaml-language-server: $schema=../schemas/trigger.schema.json
description: Welcomes new customers who have not ordered three days after signing up.
event: no_order_after_signup
after: 3d
template: hello
once: per_customer
status: paused              # set to active once the template reads right
`;

const GITIGNORE = `# herald's local state: the embedded database and the outbox.
.herald/
`;

/** `owner/repo` and ref of the action, for the README's install lines. */
function actionParts(action: string): { repo: string; ref: string } {
  const at = action.lastIndexOf('@');
  return { repo: action.slice(0, at), ref: action.slice(at + 1) };
}

function readme({ heraldVersion, action }: ScaffoldInput): string {
  const { repo, ref } = actionParts(action);
  return `# Customer emails

This repository holds the shop's customer emails as code, checked, deployed
and sent by herald:

\`\`\`
herald.yaml            the shop: sites, languages, senders, where its data lives
segments/<name>.yaml   who: a live condition over the shop's customers
lists/<name>.yaml      an imported list of contacts, with its CSV beside it
templates/<name>/      what: template.yaml (subject, preheader) + <locale>.mjml
templates/_partials/   MJML shared by templates through <mj-include>
campaigns/<name>.yaml  a newsletter: sites, audience, template, status
triggers/<name>.yaml   an automatic notification: event, template, status
reports/               what each mailing achieved, committed by the scheduled tick
.github/workflows/     pull request checks, apply on merge, the scheduled tick
\`\`\`

## Getting herald

GitHub Actions get herald from its action, \`${action}\`, which the
workflows in \`.github/workflows/\` use: it builds herald from its own
repository at that tag or commit. To upgrade, change the ref there.

On your machine, install the same version from git (Node.js 20 or later):

\`\`\`sh
npm install --global github:${repo}#${ref}
\`\`\`

## Working on it

Point herald at the shop's PostgreSQL database (docs/shop-data-contract.md
in herald says which tables it reads), then:

\`\`\`sh
herald validate      # check every file; needs no database
herald plan          # show what would change in the deployed state
herald apply         # deploy it, after asking
herald run           # the scheduler tick: send what is due, then exit
\`\`\`

\`HERALD_DATABASE_URL=postgres://…\` selects the database; without it herald
uses an embedded one in \`.herald/db\`. \`--env staging\` or \`--env production\`
selects an environment from herald.yaml.

## Pull requests and deploys

- A pull request gets annotations on the files it breaks, a preview of the
  changed templates, and one comment per environment with the plan.
- Merging applies exactly the plan reviewed in that comment to staging, then
  to production; if anything changed since the review, it stops with
  "stale plan, re-review".
- Every 15 minutes the tick sends what is due and commits the reports.

The secrets each environment needs are in herald's docs/ci.md.

## Editor

Open the folder in VS Code and install the recommended YAML extension
(redhat.vscode-yaml): it completes keys and marks mistakes as you type, from
the JSON Schemas in \`schemas/\`. They were copied from herald ${heraldVersion};
after upgrading, run \`herald init --schemas\` to copy them again.
`;
}
