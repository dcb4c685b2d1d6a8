/**
 * The options every MJML compile uses (render/mjml-worker.ts), apart from the
 * compiler so that mjml.ts can key its cache by them without loading MJML.
 *
 * `fonts: {}`: MJML links Google Fonts by default whenever a font-family names
 * one of its five (Ubuntu is in mj-text's default), so every open would tell
 * Google who read the mail: a third-party request the EU reads as sharing
 * personal data. Now only a font the template declares with <mj-font> is
 * linked, and the link checks hold its address to the site's domains like
 * any other link.
 */
export const MJML_OPTIONS = { validationLevel: 'soft', keepComments: false, fonts: {} } as const;

/** Bump when MJML_OPTIONS change, so compiled results cached on disk are not reused. */
export const MJML_OPTIONS_VERSION = 2;
