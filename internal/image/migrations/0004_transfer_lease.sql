-- The lease of the transfer (an upload or an import) holding an image in saving or
-- importing: which transfer it is, and until when (unix seconds) its process is known
-- to be alive. The process renews it while the bytes flow; one that starts resets
-- only the transfers whose lease ran out, so several image processes on one
-- database never end each other's uploads, and a transfer that lost its lease can
-- no longer make its image active.
ALTER TABLE images ADD COLUMN transfer_id TEXT;
ALTER TABLE images ADD COLUMN transfer_expires BIGINT;
