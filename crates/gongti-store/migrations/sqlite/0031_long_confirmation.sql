-- A long prescription (长期处方) confirmed by the patient on the phone in an online
-- visit (LRX-1: beyond 4 weeks the patient confirms): the weeks the doctor asked for,
-- when they asked, and when the patient confirmed.
ALTER TABLE online_visits ADD COLUMN long_weeks INTEGER;
ALTER TABLE online_visits ADD COLUMN long_asked_at_us INTEGER;
ALTER TABLE online_visits ADD COLUMN long_confirmed_at_us INTEGER;
