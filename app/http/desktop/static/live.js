// Live changes (docs/live.md): one WebSocket to /graphql speaking graphql-transport-ws (the
// protocol of Apollo Client and urql, spoken here in a few lines rather than shipping a
// library to one page), the bearer token in connection_init. The desktop follows its queue
// (incomingCalls) and the customer on screen (customerUpdated); each event makes it query
// again what it shows. While the socket is down the desktop polls, and tries it again.

const PROTOCOL = "graphql-transport-ws";
// The client's heartbeat: the gateway answers each ping with a pong.
const PING_MS = 20000;

export class LiveSocket {
  // onReady(): the socket is acknowledged (subscriptions flow); onDown(code): it closed.
  constructor(token, { onReady, onDown }) {
    this.token = token;
    this.onReady = onReady;
    this.onDown = onDown;
    this.ready = false;
    this.closing = false;
    this.ids = 0;
    this.operations = new Map();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new WebSocket(`${scheme}://${location.host}/graphql`, PROTOCOL);
    this.socket.addEventListener("open", () => this.send({
      type: "connection_init", payload: { authorization: `Bearer ${token}` },
    }));
    this.socket.addEventListener("message", (event) => this.received(JSON.parse(event.data)));
    this.socket.addEventListener("close", (event) => this.closed(event.code));
  }

  send(message) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  received(message) {
    if (message.type === "connection_ack") {
      this.ready = true;
      for (const [id, operation] of this.operations) this.start(id, operation);
      this.heartbeat = setInterval(() => this.send({ type: "ping" }), PING_MS);
      this.onReady();
    } else if (message.type === "ping") {
      this.send({ type: "pong" });
    } else if (this.operations.has(message.id)) {
      const operation = this.operations.get(message.id);
      if (message.type === "next") {
        const errors = message.payload.errors || [];
        if (errors.length) operation.error(errors[0]);
        else operation.next(message.payload.data);
      } else if (message.type === "error") {
        operation.error(message.payload[0] || {});
      }
      if (message.type === "complete" || message.type === "error") {
        this.operations.delete(message.id);
      }
    }
  }

  closed(code) {
    this.ready = false;
    clearInterval(this.heartbeat);
    if (!this.closing) this.onDown(code);
  }

  start(id, operation) {
    this.send({ id, type: "subscribe", payload: { query: operation.query, variables: operation.variables } });
  }

  // Subscribe; {next(data), error(graphqlError)} are called with what arrives. Its id, to stop.
  subscribe(query, variables, handlers) {
    const id = String(++this.ids);
    const operation = { query, variables, ...handlers };
    this.operations.set(id, operation);
    if (this.ready) this.start(id, operation);
    return id;
  }

  unsubscribe(id) {
    if (this.operations.delete(id)) this.send({ id, type: "complete" });
  }

  close() {
    this.closing = true;
    clearInterval(this.heartbeat);
    this.socket.close(1000, "signed out");
  }
}
