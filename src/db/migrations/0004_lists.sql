-- 0004_lists: imported lists of contacts (lists/<name>.yaml + CSV), replaced on
-- each apply of a changed file.

-- One row per imported list: which file content it holds.
CREATE TABLE herald.lists (
  name         text        PRIMARY KEY,
  csv_sha256   text        NOT NULL,
  rows         int         NOT NULL,
  members      int         NOT NULL,
  imported_at  timestamptz NOT NULL
);

-- People from lists who are not shop customers. They get unsubscribe
-- handling like customers (suppression is by address).
CREATE TABLE herald.contacts (
  id          bigserial   PRIMARY KEY,
  email       text        NOT NULL,
  first_name  text,
  last_name   text,
  locale      text,
  site        text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_email ON herald.contacts (lower(email));

-- A list's members: a shop customer, or a contact. Extra CSV columns are
-- kept as tokens.
CREATE TABLE herald.list_members (
  list         text   NOT NULL,
  email        text   NOT NULL,
  customer_id  bigint,
  contact_id   bigint REFERENCES herald.contacts (id),
  line         int    NOT NULL,
  tokens       jsonb  NOT NULL DEFAULT '{}',
  PRIMARY KEY (list, email),
  CHECK ((customer_id IS NULL) <> (contact_id IS NULL))
);
-- list: conditions look members up by customer.
CREATE INDEX list_members_customer ON herald.list_members (list, customer_id) WHERE customer_id IS NOT NULL;
