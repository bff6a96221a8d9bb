// The model as an output: the concept in the header, the Export model button, and a short
// list of model versions (one per retrain) from which an earlier model can be downloaded.

import { api, withToken } from "./api.js";
import { formatFigure, formatNumber } from "./stats.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const SHOWN = 5;
let versions = [];

function exportUrl(seq) {
  return withToken(seq === undefined ? "/api/export/model" : `/api/export/model?seq=${seq}`);
}

function cell(text, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

function estimateText(est) {
  if (!est) return ["\u2013", "estimates appear once audit cards are labeled"];
  const hidden = est.hidden_positives ? formatFigure(est.hidden_positives) : "\u2013";
  const precision = est.precision ? formatFigure(est.precision) : "\u2013";
  return [hidden, `hidden positives ${hidden}; precision ${precision}`];
}

function renderVersions(list) {
  versions = list;
  const body = $("model-versions");
  body.replaceChildren();
  list.slice(0, SHOWN).forEach((v, k) => {
    const tr = document.createElement("tr");
    const [missed, title] = estimateText(v.estimates);
    const ms = v.train_ms === null || v.train_ms === undefined ? "\u2013" : `${Math.round(v.train_ms)} ms`;
    const link = document.createElement("a");
    link.href = exportUrl(v.seq);
    link.download = "";
    link.textContent = "export";
    link.title = `Download the model trained at event ${v.seq}${k === 0 ? " (the latest)" : ""}`;
    link.className = "model-export";
    const td = document.createElement("td");
    td.append(link);
    tr.append(cell(formatNumber(v.labels), `event ${v.seq}`), cell(formatNumber(v.positives)),
      cell(missed, title), cell(ms), td);
    tr.dataset.seq = String(v.seq);
    body.append(tr);
  });
  $("models-section").hidden = list.length === 0;
}

/** Called with every /api/state: shows the concept and re-reads the version list. */
export async function renderModels() {
  try {
    const res = await api.models();
    $("concept").textContent = res.concept ? `\u201c${res.concept}\u201d` : "";
    $("concept").title = "What a positive label means (serve --concept)";
    renderVersions(res.versions || []);
  } catch {
    // the panel's other figures still show; the next state refresh tries again
  }
}

function onExportClick(e) {
  if (versions.length) return; // the link downloads the latest model
  e.preventDefault();
  toast("No model yet: confirm a page with at least one positive and one negative first.", "info");
}

$("export-model").addEventListener("click", onExportClick);
