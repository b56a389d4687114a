// Export and import in Splitwise's CSV format (issue #14 item 6): "Export CSV" saves the
// group's file; "Import from Splitwise" reads a file, shows which member each column is
// (a select per column, suggested by name) and every row as it would be recorded, and
// imports only when the person presses "Import N expenses". Balances then change through
// the live stream like any other write.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { Api, ImportPreview, ImportRequest } from './api.js';
import { message, download } from './common.js';
import { formatMoney } from './format.js';

/** The server refuses larger files; saying so here saves sending one. */
const MAX_FILE_BYTES = 1024 * 1024;

const save = (name: string, text: string): void => download(name, text, 'text/csv');

const STATUS: Record<ImportPreview['rows'][number]['status'], string> = {
  new: 'to import',
  present: 'imported before',
  skipped: 'changes no balance: skipped',
  problem: 'cannot be imported',
};

export function CsvExchange({
  api,
  groupId,
  currency,
  archived,
  nameOf,
}: {
  api: Api;
  groupId: string;
  currency: string;
  archived: boolean;
  nameOf: (userId: string) => string;
}) {
  const [request, setRequest] = useState<ImportRequest | null>(null);
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const act = async (what: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    setNotice(null);
    try {
      await what();
    } catch (error) {
      setNotice(message(error));
    } finally {
      setBusy(false);
    }
  };
  const show = (next: ImportRequest) =>
    act(async () => {
      setRequest(next);
      setPreview(await api.importPreview(groupId, next));
    });
  const chosen = (event: Event) => {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    // Emptied once read, so choosing the same file again (after Cancel, after an import,
    // or once it is mended) reads it again: a browser reports no change for the same file.
    input.value = '';
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      setNotice('The file is larger than 1 MB; FairShare imports files up to 1 MB.');
      return;
    }
    void file.text().then((csv) => show({ csv }));
  };
  const map = (column: number, userId: string) => {
    if (!request || !preview) return;
    const mapping = preview.columns.map((c) => ({ column: c.column, userId: c.column === column ? userId || null : c.userId }));
    void show({ csv: request.csv, mapping });
  };
  const runImport = () =>
    act(async () => {
      if (!request || !preview) return;
      const mapping = preview.columns.map((c) => ({ column: c.column, userId: c.userId }));
      const done = await api.importCsv(groupId, { csv: request.csv, mapping });
      setPreview(null);
      setRequest(null);
      setNotice(
        `Imported ${done.imported} ${done.imported === 1 ? 'expense' : 'expenses'}${done.alreadyPresent > 0 ? `; ${done.alreadyPresent} were imported before` : ''}.`,
      );
    });
  const people = (list: { userId: string; amount: string }[]) => list.map((a) => `${nameOf(a.userId)} ${formatMoney(a.amount, currency)}`).join(', ');

  return html`<section aria-labelledby="csv-h" class="csv" data-testid="csv">
    <h2 id="csv-h">Export and import</h2>
    <p class="actions">
      <button type="button" class="secondary" disabled=${busy} onClick=${() =>
        act(async () => {
          const file = await api.exportCsv(groupId);
          save(file.name, file.text);
        })}>Export CSV</button>
    </p>
    ${
      archived
        ? null
        : html`<div class="row">
            <label for="csv-file">Import from Splitwise (its CSV export)</label>
            <input id="csv-file" type="file" accept=".csv,text/csv" disabled=${busy} onChange=${chosen} data-testid="csv-file" />
          </div>`
    }
    ${notice ? html`<p class="notice" role="status" data-testid="csv-notice">${notice}</p>` : null}
    ${
      preview
        ? html`<div class="csv-preview" data-testid="csv-preview">
            <h3>Which member is each column?</h3>
            ${preview.columns.map(
              (c) => html`<div class="row" key=${c.column}>
                <label for=${`csv-col-${c.column}`}>Column “${c.name}”</label>
                <select id=${`csv-col-${c.column}`} value=${c.userId ?? ''} disabled=${busy} onChange=${(e: Event) => map(c.column, (e.target as HTMLSelectElement).value)}>
                  <option value="">Nobody (the column must hold only zeros)</option>
                  ${preview.members.map((m) => html`<option value=${m.userId} key=${m.userId}>${nameOf(m.userId)}</option>`)}
                </select>
              </div>`,
            )}
            <h3>What will be recorded</h3>
            <p data-testid="csv-summary">
              ${preview.toImport} to import${preview.problems > 0 ? `, ${preview.problems} with problems` : ''}.
              ${preview.totalsAgree === false ? ' The rows do not add up to the file’s Total balance row.' : ''}
            </p>
            <div class="table-scroll">
              <table class="csv-rows">
                <thead><tr><th>Row</th><th>Date</th><th>Description</th><th>Amount</th><th>Paid</th><th>Shared</th><th>Status</th></tr></thead>
                <tbody>
                  ${preview.rows.map(
                    (r) => html`<tr key=${r.line} class=${r.status} data-line=${r.line}>
                      <td>${r.line}</td>
                      <td>${r.date}</td>
                      <td>${r.description}${r.kind === 'payment' ? ' (payment)' : ''}</td>
                      <td>${r.amount === null ? '' : formatMoney(r.amount, currency)}</td>
                      <td>${people(r.payers)}</td>
                      <td>${people(r.shares)}</td>
                      <td>${STATUS[r.status]}${r.problems.length > 0 ? html`: <span class="field-error">${r.problems.join('; ')}</span>` : null}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>
            </div>
            <p class="actions">
              <button type="button" disabled=${busy || preview.problems > 0 || preview.toImport === 0} onClick=${runImport}>
                Import ${preview.toImport} ${preview.toImport === 1 ? 'expense' : 'expenses'}
              </button>
              <button type="button" class="secondary" disabled=${busy} onClick=${() => {
                setPreview(null);
                setRequest(null);
              }}>Cancel</button>
            </p>
          </div>`
        : null
    }
  </section>`;
}
