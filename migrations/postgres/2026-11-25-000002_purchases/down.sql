DROP TABLE webhook_events; DROP TABLE refunds; DROP TABLE purchases; DROP TABLE payment_methods;
