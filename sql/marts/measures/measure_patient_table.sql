-- marts.measure_patient: one row per measure and unit (a person; for discharge-based measures a
-- person's index discharge), filled by pipelines/measures.py one measure at a time from the SQL
-- that sql/marts/measures/measure.sql and the building blocks render for each definition in
-- measures/definitions/*.yml.
-- Grain: measure_id, person_id, episode_id (NULL for person-level measures).
-- Columns: the issue's contract (measure_id ... evidence), then episode_id (the index stay of
-- discharge-based measures), denominator_weight (1 per unit; member years for utilisation
-- measures) and numerator_count (1/0; the event count for utilisation measures), which
-- sql/marts/measure_rates.sql sums.
create or replace table marts.measure_patient (
    measure_id varchar not null,
    person_id varchar not null,
    period_start date not null,
    period_end date not null,
    in_denominator boolean not null,
    excluded boolean not null,
    exclusion_reason varchar,
    in_numerator boolean not null,
    gap_open boolean not null,
    last_event_date date,
    evidence varchar,
    episode_id varchar,
    denominator_weight double not null,
    numerator_count double not null
);
