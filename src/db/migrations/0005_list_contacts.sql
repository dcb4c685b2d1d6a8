-- 0005_list_contacts: a campaign to an imported list reaches its contacts who
-- are not shop customers, so a ledger row is for a customer or a contact.
ALTER TABLE herald.messages ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE herald.messages ADD COLUMN contact_id bigint REFERENCES herald.contacts (id);
ALTER TABLE herald.messages ADD CONSTRAINT messages_one_recipient
  CHECK ((customer_id IS NULL) <> (contact_id IS NULL));
-- The contacts' share of the UNIQUE key that makes materialising idempotent
-- (UNIQUE (campaign, customer_id) ignores the rows whose customer_id is NULL).
CREATE UNIQUE INDEX messages_campaign_contact ON herald.messages (campaign, contact_id) WHERE contact_id IS NOT NULL;
