// The note above the cards about the folder itself: what changed since the last start, files
// that are left out (with why), and labels given to files whose content has changed since.

const $ = (id) => document.getElementById(id);

function listItem(text, detail) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.className = "skipped-path";
  name.textContent = text;
  li.append(name);
  if (detail) {
    const why = document.createElement("span");
    why.className = "muted";
    why.textContent = ` \u2013 ${detail}`;
    li.append(why);
  }
  return li;
}

function section(title, rows) {
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = title;
  const list = document.createElement("ul");
  list.append(...rows);
  details.append(summary, list);
  return details;
}

function noteElement() {
  let note = $("folder-note");
  if (!note) {
    note = document.createElement("div");
    note.id = "folder-note";
    note.className = "folder-note";
    note.setAttribute("role", "status");
    $("grid").before(note);
  }
  return note;
}

/** Show (or hide) the note from /api/state's skipped, folder_changes and review fields. */
export function renderFolderNote(state) {
  const skipped = state.skipped || [];
  const review = state.review || [];
  const changes = state.folder_changes;
  const changed = changes && !changes.first_start && (changes.new || changes.changed || changes.removed);
  const note = noteElement();
  note.hidden = !skipped.length && !review.length && !changed;
  if (note.hidden) return;
  const parts = [];
  if (changed) {
    const line = document.createElement("div");
    line.className = "folder-changes";
    line.textContent = `Since the last start: ${changes.summary}.`;
    parts.push(line);
  }
  if (skipped.length) {
    const n = skipped.length;
    const title = `${n} file${n === 1 ? "" : "s"} skipped (unreadable, broken or duplicate)`;
    parts.push(section(title, skipped.map((s) => listItem(s.path, s.reason))));
  }
  if (review.length) {
    const n = review.length;
    const title = `${n} labeled file${n === 1 ? "" : "s"} changed since labeled: worth a second look`;
    const word = (label) => (label === 1 ? "labeled positive" : "labeled negative");
    parts.push(section(title, review.map((r) => listItem(`#${r.id} ${r.path}`, word(r.label)))));
  }
  note.replaceChildren(...parts);
}
