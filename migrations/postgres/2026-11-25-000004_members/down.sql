DROP TABLE member_spend;
