/**
 * The GitHub Actions workflows `herald init` scaffolds: the pull request
 * checks, apply on merge, and the scheduled tick. Each gets herald from the
 * herald action (action.yml in herald's repository), pinned by tag or
 * commit, so a workspace needs no package.json and no registry release.
 * Pure functions of the inputs; docs/ci.md explains every step.
 */
export interface WorkflowInput {
  /** `owner/repo@ref` of herald's action, e.g. herald-crm/herald@v0.1.0 or …@<commit sha>. */
  action: string;
  /** Environments from herald.yaml, in the order they are promoted (staging before production). */
  environments: string[];
  /** The branch merges land on and the tick commits reports to. */
  branch: string;
}

/** Path (under the workspace) → content. */
export function workflowFiles(input: WorkflowInput): Record<string, string> {
  return {
    '.github/workflows/herald-pr.yml': pullRequest(input),
    '.github/workflows/herald-apply.yml': applyOnMerge(input),
    '.github/workflows/herald-tick.yml': tick(input),
  };
}

/** The environment the tick sends from: the last one promoted to (production). */
export function sendingEnvironment(environments: string[]): string {
  return environments[environments.length - 1]!;
}

/**
 * herald.yaml's environments name their variables HERALD_<ENV>_DATABASE_URL;
 * a GitHub environment holds the secrets under fixed names, so every job maps
 * one onto the other for the environment it runs in.
 */
export function envVariable(env: string, what: 'DATABASE_URL'): string {
  return `HERALD_${env.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_${what}`;
}

function matrix(envs: string[]): string {
  return `[${envs.join(', ')}]`;
}

/** Plan variables for every environment, from repository secrets holding read-only URLs. */
function planSecrets(envs: string[]): string {
  return envs.map((e) => `      ${envVariable(e, 'DATABASE_URL')}: \${{ secrets.${envVariable(e, 'DATABASE_URL').replace(/_DATABASE_URL$/, '_PLAN_DATABASE_URL')} }}`).join('\n');
}

function pullRequest({ action, environments }: WorkflowInput): string {
  return `# herald on pull requests: validate (annotations on the changed files),
# preview the changed templates (an artifact with the grid and screenshots),
# and plan every environment into one sticky comment each, updated on every
# push. The plan's review fingerprint in that comment is what the merge
# applies (herald-apply.yml). docs/ci.md in herald explains each step.
name: herald / pull request

on:
  pull_request:
    paths-ignore: ['reports/**']

permissions:
  contents: read
  pull-requests: write

concurrency:
  group: herald-pr-\${{ github.event.pull_request.number }}
  cancel-in-progress: true

jobs:
  validate:
    runs-on: ubuntu-latest
    timeout-minutes: 10
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: ${action}
      - name: Validate
        run: herald validate

  preview:
    needs: validate
    runs-on: ubuntu-latest
    timeout-minutes: 15
    env:
      # GitHub's runners have Google Chrome; herald drives it for the screenshots.
      HERALD_CHROMIUM: /usr/bin/google-chrome
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: ${action}
      - name: Render the changed templates, and comment
        env:
          GITHUB_TOKEN: \${{ github.token }}
        run: |
          status=0
          herald preview --changed-since "origin/$GITHUB_BASE_REF" --screenshots --out "$RUNNER_TEMP/preview" \\
            --format markdown --artifact-url "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID" > "$RUNNER_TEMP/preview.md" || status=$?
          # A message that fails to render fails the check, after the comment says which.
          herald github comment --body-file "$RUNNER_TEMP/preview.md"
          exit "$status"
      - name: Upload the preview grid
        if: \${{ !cancelled() }}
        uses: actions/upload-artifact@v4
        with:
          name: herald-preview
          path: \${{ runner.temp }}/preview
          if-no-files-found: ignore

  plan:
    needs: validate
    # Branches of forks get no secrets, so they get no plan.
    if: github.event.pull_request.head.repo.full_name == github.repository
    runs-on: ubuntu-latest
    timeout-minutes: 15
    strategy:
      fail-fast: false
      matrix:
        environment: ${matrix(environments)}
    env:
      # Read-only database URLs (docs/ci.md): planning writes nothing.
${planSecrets(environments)}
    steps:
      - uses: actions/checkout@v4
      - uses: ${action}
      - name: Plan, and comment
        env:
          GITHUB_TOKEN: \${{ github.token }}
          HERALD_ENVIRONMENT: \${{ matrix.environment }}
        run: |
          status=0
          herald plan --env "$HERALD_ENVIRONMENT" --out "$RUNNER_TEMP/plan.json" \\
            --format markdown --artifact-url "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID" > "$RUNNER_TEMP/plan.md" || status=$?
          # A plan with refused changes fails the check, after the comment says why.
          herald github comment --body-file "$RUNNER_TEMP/plan.md"
          exit "$status"
      - name: Upload the plan
        if: \${{ !cancelled() }}
        uses: actions/upload-artifact@v4
        with:
          name: herald-plan-\${{ matrix.environment }}
          path: \${{ runner.temp }}/plan.json
          if-no-files-found: ignore
`;
}

function applyOnMerge({ action, environments, branch }: WorkflowInput): string {
  const jobs = environments.map((env, i) => {
    const id = `apply-${env}`;
    return `  ${id}:
${i > 0 ? `    needs: apply-${environments[i - 1]}\n` : ''}    runs-on: ubuntu-latest
    timeout-minutes: 15
    # Promotion: give this GitHub environment required reviewers, and the
    # apply waits for one of them (docs/ci.md).
    environment: ${env}
    concurrency:
      group: herald-apply-${env}
      cancel-in-progress: false
    env:
      ${envVariable(env, 'DATABASE_URL')}: \${{ secrets.HERALD_DATABASE_URL }}
      GITHUB_TOKEN: \${{ github.token }}
    steps:
      - uses: actions/checkout@v4
      - uses: ${action}
      - name: Find the plan reviewed on the pull request
        id: reviewed
        run: herald github reviewed --env ${env} --commit "$GITHUB_SHA"
      - name: Apply exactly that plan
        env:
          REVIEWED: \${{ steps.reviewed.outputs.fingerprint }}
        run: herald apply --env ${env} --reviewed "$REVIEWED"
      - name: Say so on the pull request
        if: failure() && steps.reviewed.outputs.pr != ''
        env:
          PR: \${{ steps.reviewed.outputs.pr }}
        run: |
          printf '%s\\n' '<!-- herald:apply env=${env} -->' \\
            '**herald did not apply this pull request to ${env}.** The plan made on merge is not the one reviewed here (stale plan, re-review), or the apply failed: see the run at '"$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"'.' \\
            '' 'To re-review: open a pull request from the current ${branch}, review its plan, and merge it.' > "$RUNNER_TEMP/stale.md"
          herald github comment --pr "$PR" --body-file "$RUNNER_TEMP/stale.md"
`;
  });
  return `# herald on merge: apply, per environment and in order, exactly the plan
# that was reviewed on the pull request. herald plans again and applies only
# when the new plan's review fingerprint is the one in the pull request's
# comment; otherwise it fails with "stale plan, re-review" and says so on
# the pull request. docs/ci.md in herald explains each step.
name: herald / apply

on:
  push:
    branches: [${branch}]
    paths-ignore: ['reports/**']

permissions:
  contents: read
  pull-requests: write

jobs:
${jobs.join('\n')}`;
}

function tick({ action, environments, branch }: WorkflowInput): string {
  const env = sendingEnvironment(environments);
  return `# herald's scheduler: every 15 minutes, off the hour (GitHub delays and
# drops runs at busy times like :00), launch due campaigns, sweep triggers,
# send within the budget, then write the reports, charts and calendar and
# commit them back with [skip ci]. Ticks never overlap. docs/ci.md in herald
# explains each step.
name: herald / tick

on:
  schedule:
    - cron: '7,22,37,52 * * * *'
  workflow_dispatch:

permissions:
  contents: write

concurrency:
  group: herald-tick-${env}
  cancel-in-progress: false

jobs:
  tick:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    environment: ${env}
    env:
      ${envVariable(env, 'DATABASE_URL')}: \${{ secrets.HERALD_DATABASE_URL }}
      HERALD_SMTP_URL: \${{ secrets.HERALD_SMTP_URL }}
      HERALD_SECRET: \${{ secrets.HERALD_SECRET }}
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${branch}
      - uses: ${action}
      - name: Tick
        run: herald run --env ${env} --budget 8m --every 15m
      - name: Calendar
        run: herald calendar --env ${env}
      - name: Commit the reports
        run: herald report --all --env ${env} --commit --push --branch ${branch}
`;
}
