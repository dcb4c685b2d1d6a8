import { join } from 'node:path';
import { calendarMarkdown, type Calendar } from './calendar.js';
import { calendarIcs } from './ics.js';
import { makeReportFolder, reportFileError } from '../report/folder.js';
import { replaceFile } from '../workspace/files.js';

/**
 * writeCalendar: reports/calendar.md and reports/calendar.ics, each written
 * beside and renamed over, so a reader (or a commit) never sees half of one.
 * Both are rendered before either is written.
 */
export function writeCalendar(dir: string, c: Calendar): string[] {
  const folder = join(dir, 'reports');
  const files = [
    [join(folder, 'calendar.md'), calendarMarkdown(c)],
    [join(folder, 'calendar.ics'), calendarIcs(c)],
  ] as const;
  makeReportFolder(dir, folder, 'the calendar');
  for (const [file, content] of files) {
    try {
      replaceFile(file, content);
    } catch (e) {
      throw reportFileError(e, file, 'the calendar');
    }
  }
  return files.map(([f]) => f);
}
