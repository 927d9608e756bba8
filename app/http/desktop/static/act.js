// The "Act" area: what the agent does for the caller without leaving the screen, each write
// going to its fact's system of record (a note to the CRM, a ticket to support) through the
// gateway's mutations. A form keeps its idempotency key until the gateway has its write: a
// second click, or a retry after a lost answer, sends the same key and never writes twice.

import { RequestFailed, graphql } from "./api.js";
import * as Q from "./queries.js";

const $ = (id) => document.getElementById(id);

const OUTCOMES = {
  APPLIED: "saved",
  PENDING: "kept: it is sent as soon as the system answers again",
  FAILED: "not saved",
};

function keyOf(form) {
  if (!form.dataset.key) form.dataset.key = crypto.randomUUID();
  return form.dataset.key;
}

// `session()` is the call acted within ({token, interactionToken, customerId}) or null;
// `written()` is told when a write is in its system, to read the customer again.
export function setupAct(session, written) {
  async function send(form, document, field, what, variables) {
    const call = session();
    const status = form.querySelector(".act-status");
    if (!call) {
      status.textContent = "Take the customer's call first.";
      return;
    }
    status.textContent = "Sending…";
    form.dataset.state = "sending";
    try {
      const { data } = await graphql(
        document,
        { ...variables, id: call.customerId, key: keyOf(form) },
        { token: call.token, interactionToken: call.interactionToken },
      );
      const result = data[field];
      const reason = result.reason ? ` (${result.reason})` : "";
      status.textContent = `${what} ${OUTCOMES[result.status]}${reason}.`;
      form.dataset.state = result.status;
      delete form.dataset.key;
      form.reset();
      if (result.status === "APPLIED") written();
    } catch (error) {
      form.dataset.state = "refused";
      // Nothing was kept under a refused key but the one reused: a new one for the next try.
      if (error instanceof RequestFailed && error.code === "IDEMPOTENCY_KEY_REUSED") {
        delete form.dataset.key;
      }
      status.textContent = error instanceof RequestFailed
        ? `${what} not sent: ${error.message}` : `${what} not sent.`;
    }
  }

  $("act-note").addEventListener("submit", (event) => {
    event.preventDefault();
    send(event.target, Q.ADD_NOTE, "addCustomerNote", "Note", { body: $("act-note-body").value });
  });
  $("act-ticket").addEventListener("submit", (event) => {
    event.preventDefault();
    send(event.target, Q.CREATE_TICKET, "createTicket", "Ticket", {
      input: { subject: $("act-ticket-subject").value, body: $("act-ticket-body").value },
    });
  });
}

// The area shows while the agent holds the call of the customer on screen.
export function showAct(customerId) {
  $("act").hidden = !customerId;
  if (!customerId) {
    for (const form of document.querySelectorAll("#act form")) {
      form.reset();
      delete form.dataset.key;
      form.querySelector(".act-status").textContent = "";
    }
  }
}
