-- One card order (one line, India, intra-state) as the region writer sends it to PostgreSQL, statement for
-- statement (log_statement=all), for bench/scenario-pg.sh's best case: pgbench runs 32 of these per
-- transaction, pipelined. Ids come from currval(); the shipment line takes a literal line (a volatile
-- currval() in a WHERE would scan order_line). :user, :sku and :wh are set by the scenario (pgbench -D).
SAVEPOINT sp;
SELECT id, country, name, line1, line2, city, state, postal_code, phone, is_default FROM address WHERE user_id = :user;
SELECT w.id, w.state, w.code FROM warehouse_serves ws JOIN warehouse w ON w.id = ws.warehouse_id WHERE ws.country = 'IN' ORDER BY ws.warehouse_id;
UPDATE stock SET reserved = reserved + 1 WHERE sku_id = :sku AND warehouse_id = :wh AND on_hand - reserved >= 1 RETURNING on_hand - reserved;
UPDATE order_seq SET next = next + 1 WHERE country = 'IN' RETURNING next - 1;
INSERT INTO orders (number, user_id, country, currency, lang, status, payment_method, payment_status, warehouse_id, tax_included, items_total, discount_total, shipping_total, tax_total, grand_total, address, coupon_code, created_at, updated_at, expires_at) VALUES ('IN-2026-X' || :client_id || '-' || nextval('order_seq_bench'), :user, 'IN', 'INR', 'hi', 'pending_payment', 'card', 'unpaid', :wh, 1, 2649999, 0, 0, 404237, 2649999, '{"id":1,"country":"IN","name":"Bench","line1":"1 Road","line2":"","city":"Mumbai","state":"MH","postal_code":"400001","phone":"+919812345678"}', NULL, 1796313681354, 1796313681354, 1796315481354) RETURNING id;
INSERT INTO order_line (order_id, line_no, sku_id, sku_code, name, sale_type, quantity, unit_price, discount, line_total, tax, tax_rate_bp, flash_token) VALUES (currval('orders_id_seq'), 1, :sku, 'MER-001-01-1', 'Meridian X1', 'normal', 1, 2649999, 0, 2649999, 404237, 1800, NULL);
INSERT INTO order_shipment (order_id, seq, warehouse_id, status, created_at) VALUES (currval('orders_id_seq'), 1, :wh, 'pending', 1796313681354) RETURNING id;
INSERT INTO order_shipment_line (shipment_id, line_no, sku_id, quantity) VALUES (currval('order_shipment_id_seq'), 1, :sku, 1);
INSERT INTO order_tax (order_id, kind, rate_bp, taxable, amount) VALUES (currval('orders_id_seq'), 'CGST', 900, 2245762, 202118), (currval('orders_id_seq'), 'SGST', 900, 2245762, 202119);
INSERT INTO order_event (order_id, to_status, actor, at) VALUES (currval('orders_id_seq'), 'pending_payment', 'customer:' || :user, 1796313681354);
INSERT INTO outbox (type, order_id, payload, created_at) VALUES ('order.created', currval('orders_id_seq'), '{"order_id":2,"number":"IN-2026-0000002","status":"pending_payment","country":"IN","currency":"INR","grand_total":2649999,"user_id":1,"payment_method":"card","payment_status":"unpaid"}', 1796313681355);
RELEASE sp;
