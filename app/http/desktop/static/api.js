// The desktop's only way to the gateway: POST /graphql with the agent's bearer token (and
// the call's interaction token when there is one), and the codes of its errors put into
// sentences an agent understands. The token lives in sessionStorage: this tab only.

const TOKEN_KEY = "scv.desktop.token";

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// The token's claims, for showing who is signed in; the gateway checks the signature, the
// page only reads. Null when it is not a JWT.
export function claimsOf(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json);
    return typeof claims === "object" && claims !== null ? claims : null;
  } catch {
    return null;
  }
}

// Each registered system's name for people ("The CRM"), as the page was served with it.
const SYSTEM_NAMES = JSON.parse(document.body.dataset.systemNames || "{}");

export function systemName(source) {
  return SYSTEM_NAMES[source] || "A system";
}

// One sentence per code the gateway gives; the code itself is shown beside it, smaller,
// for whoever the agent calls for help.
const SENTENCES = {
  UPSTREAM_UNAVAILABLE: (s) => `${s} is not answering right now.`,
  UPSTREAM_TIMEOUT: (s) => `${s} took too long to answer.`,
  UPSTREAM_RATE_LIMITED: (s) => `${s} is asking the gateway to slow down.`,
  CIRCUIT_OPEN: (s) => `${s} has been failing; the gateway is giving it time to recover.`,
  UPSTREAM_BUSY: (s) => `${s} is busy with other requests.`,
  UPSTREAM_REJECTED: (s) => `${s} refused the request.`,
  UPSTREAM_NOT_FOUND: (s) => `${s} no longer has this record.`,
  UPSTREAM_CONTRACT: (s) => `${s} answered in a way the gateway does not understand.`,
  UPSTREAM_ERROR: (s) => `${s} failed to answer.`,
  AUDIT_UNAVAILABLE: () =>
    "Personal details are hidden: the audit trail cannot be written right now.",
  FORBIDDEN: () => "Your role may not see or do this.",
  UNAUTHENTICATED: () => "Your sign-in is not valid or has expired. Sign in again.",
  INTERACTION_TOKEN_INVALID: () =>
    "This call is no longer yours (transferred, ended or expired); details are masked again.",
  INTERACTION_NOT_FOUND: () => "There is no such call.",
  INTERACTION_HELD_BY_ANOTHER_AGENT: () => "Another agent has already taken this call.",
  INTERACTION_NOT_CLAIMED: () => "Claim the call first.",
  INTERACTION_ENDED: () => "This call has ended.",
  INTERACTION_EXPIRED: () => "This call waited too long and has expired.",
  INTERACTION_CONFLICT: () => "The call changed while you acted; try again.",
  VERIFICATION_FAILED: () => "The answers do not match the records.",
  VERIFICATION_ATTEMPTS_EXHAUSTED: () =>
    "No identity checks are left for this call; details stay masked.",
  VERIFICATION_UNAVAILABLE: () =>
    "The records hold nothing to check the caller against; details stay masked.",
  ANSWERS_INCOMPLETE: () => "Ask the caller for every answer the form asks for.",
  BAD_USER_INPUT: () => "The gateway did not accept what was entered.",
  VERIFICATION_REQUIRED: () => "The caller is not verified strongly enough for this.",
  CONFLICT: () => "The record changed since it was shown; read it again before changing it.",
  IDEMPOTENCY_KEY_REUSED: () => "This form was already sent with other content; send it again.",
  RATE_LIMITED: () => "Too many requests from this desk; wait a few seconds.",
  QUERY_TOO_COSTLY: () => "The gateway refused a request as too large.",
  INTERNAL_SERVER_ERROR: () => "The gateway failed unexpectedly.",
  NETWORK: () => "The gateway cannot be reached. Check the connection.",
};

// A sentence for a GraphQL error entry (or a made-up one: {extensions: {code}}).
export function sentenceFor(error) {
  const extensions = (error && error.extensions) || {};
  const code = extensions.code || "INTERNAL_SERVER_ERROR";
  // A write's refusal names the field at fault; its message says what is wrong with it.
  if (code === "BAD_USER_INPUT" && extensions.field) return `${error.message}.`;
  const make = SENTENCES[code];
  if (make) return make(systemName(extensions.source));
  return error.message || "Something went wrong.";
}

export function codeOf(error) {
  return (error && error.extensions && error.extensions.code) || "UNKNOWN";
}

// A request that failed as a whole (HTTP error, refusal of a mutation, no connection).
export class RequestFailed extends Error {
  constructor(error, status) {
    super(sentenceFor(error));
    this.code = codeOf(error);
    this.status = status;
  }
}

// POST one GraphQL operation; {data, errors} on a GraphQL answer (partial ones included),
// RequestFailed when there is no data at all.
export async function graphql(document, variables, { token, interactionToken } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (interactionToken) headers["X-Interaction-Token"] = interactionToken;
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query: document, variables }),
    });
  } catch {
    throw new RequestFailed({ extensions: { code: "NETWORK" } }, 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const errors = (body && body.errors) || [];
  const data = body && body.data;
  if (!data) {
    throw new RequestFailed(errors[0] || { extensions: { code: "NETWORK" } }, response.status);
  }
  return { data, errors };
}

// The first error of an answer whose path starts with `field` (a mutation's refusal).
export function refusalOf(errors, field) {
  return errors.find((e) => Array.isArray(e.path) && e.path[0] === field) || null;
}
