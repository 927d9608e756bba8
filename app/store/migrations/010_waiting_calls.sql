-- The queue of calls waiting to be claimed (waitingCalls, polled by every agent desktop)
-- reads the interactions that are not ended, oldest first; ended ones are history and
-- outnumber them more every day, so the index holds only the others.
create index interactions_open_idx on interactions (created_at, id) where state <> 'ENDED';
