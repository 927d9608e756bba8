-- Integration KPIs (docs/rollout.md): event latency, webhook received -> applied. The
-- receiver now writes when it received the delivery (received_at, until now the claiming
-- transaction's start) and, last in the transaction that applies the event, when it was
-- applied; integrationKpis reads the percentiles of the difference over a window.
-- Rows written before this migration have no applied_at and are left out.
alter table webhook_events add column applied_at timestamptz;
