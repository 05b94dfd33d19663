-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d). One database per service.
CREATE DATABASE xinren_order;
CREATE DATABASE xinren_refund;
CREATE DATABASE xinren_qc;
CREATE DATABASE xinren_notify;
CREATE DATABASE xinren_trust;
