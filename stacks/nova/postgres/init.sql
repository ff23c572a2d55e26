-- Nova's databases, schemas and application role. Idempotent: a second run changes nothing and
-- never fails. Run by the `postgres-init` one-shot with psql variables app_user / app_password.
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user')
\gexec
-- Keep the password in step with the stack's env when the role already exists.
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
\gexec

SELECT 'CREATE DATABASE nova_auth'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'nova_auth')
\gexec
SELECT 'CREATE DATABASE nova_messaging'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'nova_messaging')
\gexec

\connect nova_auth
CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS streaming;
SELECT format('GRANT CONNECT ON DATABASE nova_auth TO %I', :'app_user') \gexec
SELECT format('GRANT USAGE, CREATE ON SCHEMA auth, streaming TO %I', :'app_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA auth, streaming GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON TABLES TO %I', :'app_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA auth, streaming GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', :'app_user') \gexec
SELECT format('ALTER ROLE %I IN DATABASE nova_auth SET search_path = auth, streaming, public', :'app_user') \gexec

\connect nova_messaging
CREATE SCHEMA IF NOT EXISTS messaging;
SELECT format('GRANT CONNECT ON DATABASE nova_messaging TO %I', :'app_user') \gexec
SELECT format('GRANT USAGE, CREATE ON SCHEMA messaging TO %I', :'app_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA messaging GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON TABLES TO %I', :'app_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA messaging GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', :'app_user') \gexec
SELECT format('ALTER ROLE %I IN DATABASE nova_messaging SET search_path = messaging, public', :'app_user') \gexec
