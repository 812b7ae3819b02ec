-- One event published per transaction and nothing else: the SQL side of the
-- end-to-end comparison, whose HTTP side posts events without business rows.
SELECT txrelay.publish('bench', :'payload'::jsonb, 'user-42');
