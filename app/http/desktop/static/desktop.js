// The agent desktop: sign in, the queue of calls waiting, the call banner (claim, verify,
// transfer, end) and Find customer. Every call to the gateway goes through api.js.

import {
  RequestFailed, claimsOf, forgetToken, graphql, storeToken, storedToken,
} from "./api.js";
import { setupAct, showAct } from "./act.js";
import { LiveSocket } from "./live.js";
import * as Q from "./queries.js";
import { el, renderCustomer } from "./render.js";

// The queue follows incomingCalls while the live socket is up (live.js); while it is down,
// the queue is polled this often and the socket tried again after LIVE_RETRY_MS.
const POLL_MS = 3000;
const LIVE_RETRY_MS = 5000;
const LEVELS = ["NONE", "LOW", "MEDIUM", "HIGH"];
// Email and phone need MEDIUM: below it the agent is offered the knowledge check.
const ENOUGH = "MEDIUM";

const $ = (id) => document.getElementById(id);
const state = {
  token: null, claims: null, call: null, lookup: null, poll: null, queueKey: "",
  live: null, liveRetry: null, followed: null,
};

function say(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "an unknown time";
}

function lower(level) {
  return (level || "NONE").toLowerCase();
}

// -- sign in -------------------------------------------------------------------------------

async function loadDemoAgents() {
  let agents = [];
  try {
    const response = await fetch("/desktop/demo-agents");
    if (response.ok) agents = (await response.json()).agents || [];
  } catch {
    agents = [];
  }
  const box = $("demo-agents");
  box.replaceChildren();
  for (const agent of agents) {
    const button = el("button", { text: `Sign in as ${agent}`, attrs: { type: "button" } });
    button.addEventListener("click", () => demoSignIn(agent));
    box.append(button);
    $("agent-ids").append(el("option", { attrs: { value: agent } }));
  }
  box.hidden = agents.length === 0;
}

async function demoSignIn(agent) {
  try {
    const response = await fetch("/desktop/demo-token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ agent }),
    });
    if (!response.ok) throw new Error("refused");
    signIn((await response.json()).token);
  } catch {
    say("The demo sign-in is not available on this gateway. Paste a token instead.");
  }
}

function signIn(token) {
  const claims = claimsOf(token.trim());
  if (!claims) {
    say("That is not a token: paste the whole token, three parts separated by dots.");
    return;
  }
  state.token = token.trim();
  state.claims = claims;
  storeToken(state.token);
  $("token-input").value = "";
  $("who").textContent = `Signed in as ${claims.sub || "?"} (${claims.role || "no role"})`;
  $("sign-in").hidden = true;
  $("signed-in").hidden = false;
  document.body.dataset.signedIn = "true";
  say("");
  $("find-input").focus();
  pollQueue();
  startLive();
}

function signOut(reason = "") {
  clearTimeout(state.poll);
  stopLive();
  forgetToken();
  Object.assign(state, { token: null, claims: null, call: null, lookup: null, queueKey: "" });
  $("sign-in").hidden = false;
  $("signed-in").hidden = true;
  $("call").hidden = true;
  $("customer").hidden = true;
  $("queue-list").replaceChildren();
  $("queue-status").textContent = "Sign in to see the calls waiting.";
  document.body.dataset.signedIn = "false";
  say(reason);
}

// A request's failure, said; a sign-in the gateway no longer accepts signs the agent out.
function failed(error) {
  if (!(error instanceof RequestFailed)) throw error;
  if (error.code === "UNAUTHENTICATED") signOut(error.message);
  else say(error.message);
}

// -- live changes --------------------------------------------------------------------------

function startLive() {
  clearTimeout(state.liveRetry);
  if (!state.token || typeof WebSocket === "undefined") return;
  const live = new LiveSocket(state.token, {
    onReady: () => {
      document.body.dataset.live = "on";
      // Pushed from now on: one query catches up with what happened meanwhile.
      pollQueue();
    },
    onDown: () => {
      document.body.dataset.live = "off";
      if (state.live !== live || !state.token) return;
      state.live = null;
      state.followed = null;
      pollQueue();
      state.liveRetry = setTimeout(startLive, LIVE_RETRY_MS);
    },
  });
  state.live = live;
  live.subscribe(Q.INCOMING_CALLS, {}, { next: () => pollQueue(), error: liveError });
  if (state.lookup && state.lookup.customerId) follow(state.lookup.customerId);
}

function stopLive() {
  clearTimeout(state.liveRetry);
  if (state.live) state.live.close();
  state.live = null;
  state.followed = null;
  document.body.dataset.live = "off";
}

// A subscription refused or ended: an expired sign-in signs out; anything else (events
// dropped, a limit) is caught up by polling until the socket is made again.
function liveError(error) {
  const extensions = error.extensions || {};
  if (extensions.code === "SUBSCRIPTION_ENDED" && extensions.reason === "TOKEN_EXPIRED") {
    signOut("Your sign-in has expired. Sign in again.");
    return;
  }
  stopLive();
  pollQueue();
  state.liveRetry = setTimeout(startLive, LIVE_RETRY_MS);
}

// Follow the customer on screen: a change in any system queries them again.
function follow(customerId) {
  const live = state.live;
  if (!live || (state.followed && state.followed.customerId === customerId)) return;
  if (state.followed) live.unsubscribe(state.followed.id);
  const id = live.subscribe(Q.CUSTOMER_UPDATED, { id: customerId }, {
    next: (data) => {
      const lookup = state.lookup;
      if (!lookup || lookup.customerId !== customerId) return;
      $("customer").dataset.updatedBy = data.customerUpdated.sources.join(",");
      find(lookup);
    },
    error: liveError,
  });
  state.followed = { customerId, id };
}

// -- the queue -----------------------------------------------------------------------------

async function pollQueue() {
  clearTimeout(state.poll);
  if (!state.token) return;
  try {
    const { data } = await graphql(Q.WAITING, {}, { token: state.token });
    renderQueue(data.waitingCalls);
  } catch (error) {
    if (error instanceof RequestFailed && error.code === "UNAUTHENTICATED") return failed(error);
    $("queue-status").textContent = error instanceof RequestFailed
      ? `${error.message} The queue will try again.` : String(error);
  }
  // Pushed while the live socket is up: polled only while it is not.
  if (state.token && !(state.live && state.live.ready)) state.poll = setTimeout(pollQueue, POLL_MS);
}

function verificationText(call) {
  const v = call.verification;
  if (v.level === "NONE") {
    return `Not verified by the IVR (${lower(v.result).replace(/_/g, " ")}).`;
  }
  return `Verified by the ${v.by === "IVR" ? "IVR" : `agent ${v.by}`} by ${v.method} ` +
    `at ${time(v.verifiedAt)}: level ${lower(v.level)}.`;
}

function renderQueue(calls) {
  $("queue-status").textContent = calls.length
    ? `${calls.length} waiting · updated ${new Date().toLocaleTimeString()}`
    : `No calls waiting · updated ${new Date().toLocaleTimeString()}`;
  // Redrawn only when it changed, so that a keyboard user's focus stays where it was.
  const key = JSON.stringify(calls);
  if (key === state.queueKey) return;
  state.queueKey = key;
  const me = state.claims && state.claims.sub;
  $("queue-list").replaceChildren(...calls.map((call) => {
    const name = `Call ${call.contactId.slice(0, 8)}`;
    const button = el("button", {
      text: "Claim", attrs: { type: "button", "aria-label": `Claim ${name}` },
    });
    button.addEventListener("click", () => claim(call.contactId));
    const transferred = call.state === "ACTIVE" && call.agent === me;
    return el("li", { className: "queue-item", attrs: { "data-contact": call.contactId } }, [
      el("strong", { text: name }),
      transferred ? el("span", { className: "badge", text: "Transferred to you" }) : null,
      el("p", { className: "muted", text: verificationText(call) }),
      button,
    ]);
  }));
}

// -- the call ------------------------------------------------------------------------------

async function claim(contactId) {
  try {
    const { data } = await graphql(Q.CLAIM, { c: contactId }, { token: state.token });
    const grant = data.claimInteraction;
    state.call = { contactId, token: grant.token, interaction: grant.interaction };
    say("");
    renderCall();
    const customer = grant.interaction.customer;
    if (customer) await find({ document: Q.BY_ID, value: customer.id, kind: "customer" });
    $("call-title").focus();
  } catch (error) {
    failed(error);
  }
  pollQueue();
}

function renderCall() {
  const call = state.call;
  if (!call) {
    $("call").hidden = true;
    return;
  }
  const interaction = call.interaction;
  const caller = call.name || "the caller";
  $("call").hidden = false;
  $("call-caller").textContent = `On a call with ${caller} · contact ${call.contactId}`;
  const enough = LEVELS.indexOf(interaction.verification.level) >= LEVELS.indexOf(ENOUGH);
  $("call-verification").textContent = verificationText(interaction) + (enough
    ? " Do not ask again what was already checked."
    : " Ask the questions below to see their contact details.");
  $("kba").hidden = enough;
  $("call").dataset.level = interaction.verification.level;
}

async function verify(event) {
  event.preventDefault();
  const answers = { postcode: $("kba-postcode").value.trim() || null };
  if ($("kba-dob").value) answers.dateOfBirth = $("kba-dob").value;
  try {
    const { data } = await graphql(Q.VERIFY, { c: state.call.contactId, a: answers }, {
      token: state.token, interactionToken: state.call.token,
    });
    state.call.interaction = data.verifyCaller;
    $("kba").reset();
    say(`Caller verified: level ${lower(data.verifyCaller.verification.level)}.`, "ok");
    renderCall();
    if (state.lookup) await find(state.lookup);
  } catch (error) {
    failed(error);
  }
}

async function transfer(event) {
  event.preventDefault();
  const to = $("transfer-to").value.trim();
  if (!to) return say("Type the id of the agent to transfer the call to.");
  try {
    await graphql(Q.TRANSFER, { c: state.call.contactId, to }, {
      token: state.token, interactionToken: state.call.token,
    });
    closeCall(`Call transferred to ${to}. They see the same verification: nothing to ask again.`);
  } catch (error) {
    failed(error);
  }
}

async function endCall() {
  try {
    await graphql(Q.END, { c: state.call.contactId }, {
      token: state.token, interactionToken: state.call.token,
    });
    closeCall("Call ended.");
  } catch (error) {
    failed(error);
  }
}

// The call is no longer this agent's: its unmasked details leave the screen with it.
function closeCall(message) {
  state.call = null;
  state.lookup = null;
  showAct(null);
  $("transfer").reset();
  renderCall();
  $("customer").hidden = true;
  say(message, "ok");
  $("find-input").focus();
  pollQueue();
}

// -- find customer -------------------------------------------------------------------------

async function find(lookup, started = performance.now()) {
  const section = $("customer");
  section.dataset.state = "loading";
  section.setAttribute("aria-busy", "true");
  const call = state.call;
  try {
    const { data, errors } = await graphql(lookup.document, { v: lookup.value }, {
      token: state.token, interactionToken: call && call.token,
    });
    const customer = data.customer;
    if (!customer) {
      showAct(null);
      section.hidden = true;
      section.dataset.state = "empty";
      const refusal = errors.find((e) => e.extensions && e.extensions.code === "BAD_USER_INPUT");
      say(refusal ? `That ${lookup.kind} is not valid: ${refusal.message}.`
        : `No customer found for that ${lookup.kind}.`, "info");
      return;
    }
    state.lookup = { ...lookup, customerId: customer.id };
    follow(customer.id);
    const verified = call && call.interaction.customer && call.interaction.customer.id === customer.id;
    const access = verified
      ? { masked: false, text: `Verified call: level ${lower(call.interaction.verification.level)}. ` +
          "A detail needing more verification says which level it needs." }
      : { masked: true, text: "Masked: there is no verified call with this customer. " +
          "Claim their call to see their details." };
    renderCustomer(section, customer, errors, access, (id) =>
      find({ document: Q.BY_ID, value: id, kind: "customer" }));
    showAct(verified ? customer.id : null);
    if (verified) {
      call.name = customer.displayName;
      renderCall();
    }
    section.dataset.findMs = String(Math.round(performance.now() - started));
  } catch (error) {
    section.dataset.state = "failed";
    if (error instanceof RequestFailed && error.code === "INTERACTION_TOKEN_INVALID") {
      state.call = null;
      renderCall();
      say(error.message);
      return find(lookup, started);
    }
    failed(error);
  } finally {
    section.removeAttribute("aria-busy");
  }
}

function onFind(event) {
  event.preventDefault();
  const started = performance.now();
  const lookup = Q.lookupFor($("find-input").value);
  if (!lookup) return say("Type a phone number, an email or an IVR contact id.", "info");
  if (!state.token) return say("Sign in first.");
  say("");
  return find(lookup, started);
}

// -- start ---------------------------------------------------------------------------------

function start() {
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token-input").value);
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("find").addEventListener("submit", onFind);
  $("kba").addEventListener("submit", verify);
  $("transfer").addEventListener("submit", transfer);
  $("end-call").addEventListener("click", endCall);
  $("call-title").tabIndex = -1;
  setupAct(() => {
    const call = state.call;
    const customer = call && call.interaction.customer;
    return customer ? { token: state.token, interactionToken: call.token, customerId: customer.id }
      : null;
  }, () => state.lookup && find(state.lookup));
  loadDemoAgents();
  const token = storedToken();
  if (token) signIn(token);
}

start();
