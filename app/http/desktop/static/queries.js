// The GraphQL documents the desktop sends: a handful, over and over (the gateway keeps
// them parsed). The customer is always aliased `customer`, so error paths read the same
// whichever lookup found them.

// The customer's panels are the page's (one section per registered source with a desktop
// panel: app/http/desktop/page.py), each asking what its section's data-selection says.
const PANEL_FIELDS = [...document.querySelectorAll("[data-panel]")]
  .map((panel) => `  ${panel.dataset.panel} {\n    ${panel.dataset.selection}\n    meta { ...Meta }\n  }`)
  .join("\n");

const VIEW = `
fragment Meta on PanelMeta { source fetchedAt cache ageSeconds stale }
fragment View on Customer {
  id displayName
  links { source externalId }
  conflicts { field values { value source } chosen { value source } }
  possibleDuplicates(first: 5) { reason customer { id displayName } }
${PANEL_FIELDS}
}`;

export const BY_EMAIL = `query DesktopByEmail($v: String!) {
  customer: customerByEmail(email: $v) { ...View } }${VIEW}`;
export const BY_PHONE = `query DesktopByPhone($v: String!) {
  customer: customerByPhone(phone: $v) { ...View } }${VIEW}`;
export const BY_CONTACT = `query DesktopByContact($v: ID!) {
  customer: customerBySourceId(source: IVR, id: $v) { ...View } }${VIEW}`;
export const BY_ID = `query DesktopById($v: ID!) {
  customer(id: $v) { ...View } }${VIEW}`;

// The queue names no customer: it is read again on every incomingCalls event (or polled
// every few seconds while the live socket is down) by every desk, and each
// personal field read (a name too, masked or not) is a line of the audit trail. The caller's
// name comes with the customer, once the call is claimed.
const CALL = `contactId state agent verification { level method result verifiedAt by }`;

export const WAITING = `query DesktopWaitingCalls { waitingCalls(first: 10) { ${CALL} } }`;
export const CLAIM = `mutation DesktopClaim($c: ID!) {
  claimInteraction(contactId: $c) { token interaction { ${CALL} customer { id } } } }`;
export const VERIFY = `mutation DesktopVerify($c: ID!, $a: KbaAnswers!) {
  verifyCaller(contactId: $c, answers: $a) { ${CALL} customer { id } } }`;
export const TRANSFER = `mutation DesktopTransfer($c: ID!, $to: ID!) {
  transferInteraction(contactId: $c, toAgent: $to) { state agent } }`;
export const END = `mutation DesktopEnd($c: ID!) { endInteraction(contactId: $c) { state } }`;

// Writes to the systems of record (the Act area); each carries the form's idempotency key.
const WRITTEN = `id status reason record { source id }`;
export const ADD_NOTE = `mutation DesktopAddNote($id: ID!, $body: String!, $key: String!) {
  addCustomerNote(customerId: $id, body: $body, idempotencyKey: $key) { ${WRITTEN} } }`;
export const CREATE_TICKET = `mutation DesktopCreateTicket($id: ID!, $input: TicketInput!,
  $key: String!) { createTicket(customerId: $id, input: $input, idempotencyKey: $key) {
  ${WRITTEN} } }`;

// What the agent typed, as one lookup: an email has an @, a phone is digits and the
// punctuation phones are written with (7 to 15 digits, E.164's range); anything else is
// taken for an IVR contact id (a UUID has 32 hex digits, never a phone's 15).
export function lookupFor(text) {
  const value = text.trim();
  if (!value) return null;
  if (value.includes("@")) return { document: BY_EMAIL, value, kind: "email" };
  const digits = value.replace(/\D/g, "");
  if (/^[+\d\s().\-/]+$/.test(value) && digits.length >= 7 && digits.length <= 15) {
    return { document: BY_PHONE, value, kind: "phone" };
  }
  return { document: BY_CONTACT, value, kind: "IVR contact id" };
}

// Live changes (live.js): they name what changed, never a value; the desktop queries again.
export const INCOMING_CALLS = `subscription DesktopIncomingCalls { incomingCalls { contactId state } }`;
export const CUSTOMER_UPDATED = `subscription DesktopCustomerUpdated($id: ID!) {
  customerUpdated(customerId: $id) { sources panels requery }
}`;
