// The customer on one screen: a header (name, links, access, flags) and a panel per system,
// each with its source, age and cache state, or its own error while the others stay.
// Values are only ever set as text (never as HTML): they are data from four systems.

import { sentenceFor, codeOf, systemName } from "./api.js";

export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

// The customer's panels, each filled from its field of the answer: the page's sections, one
// per registered source with a desktop panel (app/http/desktop/page.py).
const PANELS = [...document.querySelectorAll("[data-panel]")].map((panel) => panel.dataset.panel);

// Errors of one answer, sorted: fields withheld for want of verification (by path), and
// failures of a panel (by panel name) or of anything else.
export function sortErrors(errors) {
  const withheld = new Map();
  const panels = new Map();
  const other = [];
  for (const error of errors) {
    const path = Array.isArray(error.path) ? error.path : [];
    const code = codeOf(error);
    if (code === "VERIFICATION_REQUIRED" || code === "FORBIDDEN" || code === "AUDIT_UNAVAILABLE") {
      withheld.set(path.join("."), error);
    } else if (path[0] === "customer" && PANELS.includes(path[1])) {
      if (!panels.has(path[1])) panels.set(path[1], error);
    } else {
      other.push(error);
    }
  }
  return { withheld, panels, other };
}

function age(seconds) {
  if (seconds < 2) return "just now";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

const CACHE_WORDS = { HIT: "from the gateway's cache", MISS: "fresh from the system" };

function metaLine(meta) {
  const cache = meta.stale ? "stale: may be out of date" : CACHE_WORDS[meta.cache] || meta.cache;
  return `From ${systemName(meta.source).replace(/^The /, "")} · read ${age(meta.ageSeconds)} · ${cache}`;
}

function money(value) {
  if (!value) return "—";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: value.currency })
      .format(Number(value.amount));
  } catch {
    return `${value.amount} ${value.currency}`;
  }
}

function day(iso) {
  return iso ? new Date(iso).toLocaleDateString() : "—";
}

const WORDS = { NONE: "none", LOW: "low", MEDIUM: "medium", HIGH: "high" };

// A field's value; when null, why: withheld until a stronger verification, masked (a
// personal field, no verified call), or not on record. `ctx` is {withheld, masked}.
function value(text, path, ctx, pii = true) {
  if (text !== null && text !== undefined && text !== "") return el("span", { text: String(text) });
  const error = ctx.withheld.get(path);
  if (!error && pii && ctx.masked) {
    return el("span", { className: "withheld", text: "Hidden until the caller is verified" });
  }
  if (!error) return el("span", { className: "muted", text: "not on record" });
  const level = error.extensions && error.extensions.requiredLevel;
  const words = level
    ? `Needs ${WORDS[level] || level} verification`
    : sentenceFor(error);
  return el("span", { className: "withheld", text: words, attrs: { "data-required": level || "" } });
}

function rows(pairs) {
  const list = el("dl", { className: "fields" });
  for (const [label, node] of pairs) list.append(el("dt", { text: label }), el("dd", {}, [node]));
  return list;
}

function panelError(panel, error) {
  panel.dataset.state = "error";
  panel.querySelector(".meta").textContent = "";
  const body = panel.querySelector(".body");
  body.replaceChildren(
    el("p", { className: "panel-error", attrs: { role: "status" } }, [
      el("strong", { text: sentenceFor(error) }),
      el("span", { text: " The rest of the screen is up to date; try again in a moment." }),
      el("span", { className: "code", text: ` (${codeOf(error)})` }),
    ]),
  );
}

function fill(panel, data, none, build) {
  panel.classList.toggle("stale", Boolean(data && data.meta && data.meta.stale));
  if (!data) {
    panel.dataset.state = "none";
    panel.querySelector(".meta").textContent = "";
    panel.querySelector(".body").replaceChildren(el("p", { className: "muted", text: none }));
    return;
  }
  panel.dataset.state = "ready";
  panel.dataset.cache = data.meta.cache;
  panel.querySelector(".meta").textContent = metaLine(data.meta);
  panel.querySelector(".body").replaceChildren(...build(data));
}

function profileBody(profile, ctx) {
  const p = "customer.profile";
  const address = profile.address || {};
  const street = [address.line1, address.line2].filter(Boolean).join(", ");
  return [
    rows([
      ["Name", value(profile.name, `${p}.name`, ctx)],
      ["Email", value(profile.email, `${p}.email`, ctx)],
      ["Phone", value(profile.phone, `${p}.phone`, ctx)],
      ["Street", value(street, `${p}.address.line1`, ctx)],
      ["Postcode", value(address.postalCode, `${p}.address.postalCode`, ctx)],
      ["City", value([address.city, address.region].filter(Boolean).join(", "), "", ctx, false)],
      ["Country", value(address.country, "", ctx, false)],
    ]),
  ];
}

function billingBody(billing, ctx) {
  const b = "customer.billing";
  const balance = el("span", { text: money(billing.balance) });
  if (billing.delinquent) balance.append(" ", el("span", { className: "badge bad", text: "Delinquent" }));
  const subs = el("ul", { className: "items" });
  for (const s of billing.subscriptions) {
    subs.append(el("li", { text: `${s.planName || "Plan"}: ${s.status.toLowerCase().replace("_", " ")}, ` +
      `${money(s.amount)}${s.interval ? ` per ${s.interval}` : ""}` }));
  }
  const invoices = el("ul", { className: "items" });
  for (const i of billing.invoices) {
    const line = el("li", { text: `${i.number || "Invoice"}: ${i.status.toLowerCase()}, ` +
      `${money(i.amountDue)} due ${day(i.dueDate)}` });
    if (i.overdue) line.append(" ", el("span", { className: "badge bad", text: "Overdue" }));
    invoices.append(line);
  }
  const cards = el("ul", { className: "items" });
  billing.paymentCards.forEach((c, n) => {
    const expiry = c.expMonth ? el("span", { text: `${String(c.expMonth).padStart(2, "0")}/${c.expYear}` })
      : value(null, `${b}.paymentCards.${n}.expMonth`, ctx);
    cards.append(el("li", {}, [
      el("span", { text: `${c.brand} ending ` }), value(c.last4, `${b}.paymentCards.${n}.last4`, ctx),
      el("span", { text: ", expires " }), expiry,
    ]));
  });
  const none = (list, text) => (list.children.length ? list : el("span", { className: "muted", text }));
  return [rows([
    ["Balance", balance],
    ["Subscriptions", none(subs, "none")],
    ["Invoices", none(invoices, "none")],
    ["Cards", none(cards, "none on file")],
  ])];
}

function supportBody(support, ctx) {
  const list = el("ul", { className: "items" });
  support.tickets.forEach((t, n) => {
    list.append(el("li", {}, [
      value(t.subject, `customer.support.tickets.${n}.subject`, ctx),
      el("span", { className: "muted", text: ` · ${t.status.toLowerCase().replace(/_/g, " ")}` +
        `${t.priority ? `, ${t.priority}` : ""} · updated ${day(t.updatedAt)}` }),
    ]));
  });
  return [rows([
    ["Open tickets", el("span", { text: String(support.openTicketCount) })],
    ["Latest", list.children.length ? list : el("span", { className: "muted", text: "none" })],
  ])];
}

function ordersBody(orders) {
  const list = el("ul", { className: "items" });
  for (const o of orders.orders) {
    const shipped = o.shipment ? ` · ${o.shipment.carrier || "shipped"}${o.shipment.status ? `: ${o.shipment.status}` : ""}` : "";
    list.append(el("li", {}, [
      el("span", { text: `${o.number} ${money(o.total)}` }),
      el("span", { className: "muted", text: ` · ${o.status.toLowerCase()} · placed ${day(o.placedAt)}${shipped}` }),
    ]));
  }
  return [rows([
    ["Open orders", el("span", { text: String(orders.openOrderCount) })],
    ["Latest", list.children.length ? list : el("span", { className: "muted", text: "none" })],
  ])];
}

// A panel's words, from its field names: openOrderCount -> "Open order count".
function labelOf(name) {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function shown(item) {
  if (item === null || item === undefined || item === "") return "—";
  if (Array.isArray(item)) return item.map(shown).join("; ") || "none";
  if (typeof item === "object") {
    if ("amount" in item && "currency" in item) return money(item);
    return Object.values(item).filter((v) => v !== null && typeof v !== "object").join(" ") || "—";
  }
  return String(item);
}

// The panel of a source with no body of its own below: each field the page asked for, as
// words, so that a newly registered source shows without a change here.
function fieldsBody(data) {
  const pairs = Object.entries(data)
    .filter(([key]) => key !== "meta" && key !== "__typename")
    .map(([key, item]) => [labelOf(key), el("span", { text: shown(item) })]);
  return [rows(pairs)];
}

// Bodies of their own, by panel; any other panel is shown by fieldsBody.
const BODIES = {
  profile: profileBody, billing: billingBody, support: supportBody, orders: ordersBody,
};

function flags(customer, onOpen) {
  const items = [];
  for (const c of customer.conflicts ?? []) {
    const said = c.values.map((v) => `${systemName(v.source).replace(/^The /, "")}: ${v.value ?? "hidden"}`);
    items.push(el("li", { className: "flag", text: `Records disagree on ${c.field}. ${said.join("; ")}. ` +
      `Believed: ${systemName(c.chosen.source).replace(/^The /, "")}'s.` }));
  }
  for (const d of customer.possibleDuplicates ?? []) {
    const open = el("button", { text: `Open ${d.customer.displayName || "that customer"}`,
      attrs: { type: "button" } });
    open.addEventListener("click", () => onOpen(d.customer.id));
    items.push(el("li", { className: "flag" }, [
      el("span", { text: `Possible duplicate: ${d.customer.displayName || "another customer"} (${d.reason}). ` }),
      open,
    ]));
  }
  return items;
}

// Show `customer` (with the answer's `errors`) in the section; `access` is {text, masked}:
// how much the agent may see, in a sentence; `onOpen(id)` opens another customer (a possible duplicate).
export function renderCustomer(section, customer, errors, access, onOpen) {
  const { withheld, panels } = sortErrors(errors);
  const ctx = { withheld, masked: access.masked };
  section.hidden = false;
  const name = section.querySelector("#customer-name");
  name.replaceChildren(value(customer.displayName, "customer.displayName", ctx));
  const links = customer.links.map((l) => `${systemName(l.source).replace(/^The /, "")} ${l.externalId}`);
  section.querySelector("#customer-links").textContent =
    `Customer ${customer.id} · known to ${links.join(" · ") || "no system"}`;
  const accessLine = section.querySelector("#customer-access");
  accessLine.textContent = access.text;
  accessLine.classList.toggle("masked", access.masked);
  section.querySelector("#customer-flags").replaceChildren(...flags(customer, onOpen));
  for (const key of PANELS) {
    const panel = section.querySelector(`#panel-${key}`);
    const build = BODIES[key] || fieldsBody;
    if (panels.has(key)) panelError(panel, panels.get(key));
    else fill(panel, customer[key], panel.dataset.none, (data) => build(data, ctx));
  }
  section.dataset.state = "ready";
}
