-- Orders to the cloud centres (检查申请, DOMAIN.md §8). A centre is a cloud laboratory,
-- imaging or ECG centre of an upper hospital; a laboratory centre that passed its
-- quality evaluation (valid until `qc_valid_until`) marks its results with `hr_scope`
-- (e.g. 京津冀HR), so they are recognised elsewhere.
CREATE TABLE exam_centres (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    -- lab, imaging or ecg
    kind TEXT NOT NULL,
    -- 1 to 6 of A-Z and 0-9: the accession numbers' prefix
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 6),
    name TEXT NOT NULL,
    hr_scope TEXT NOT NULL DEFAULT '',
    qc_valid_until TEXT,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX exam_centres_institution ON exam_centres(institution_id, kind);

-- An order and its workflow (received → accepted → in-progress → completed, or rejected
-- / cancelled with `status_reason`). The centre's institution may read the patient's
-- record through `care_relationship_id` while the order is open and for 30 days after.
-- An order placed although a recognised result existed keeps the doctor's reason.
CREATE TABLE exam_orders (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    item_code TEXT NOT NULL,
    category TEXT NOT NULL,
    priority TEXT NOT NULL,
    indication TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    placer_number TEXT NOT NULL UNIQUE,
    accession_number TEXT NOT NULL UNIQUE,
    -- an imaging or ECG order's pre-assigned StudyInstanceUID (its worklist item's)
    study_uid TEXT,
    centre_id INTEGER NOT NULL REFERENCES exam_centres(id),
    centre_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    placer_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    ordered_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    reorder_reason TEXT,
    reorder_text TEXT,
    -- the reader who claimed it from the reading worklist
    reader_staff_id INTEGER REFERENCES staff(id),
    claimed_at_us INTEGER,
    care_relationship_id INTEGER NOT NULL REFERENCES care_relationships(id),
    created_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
CREATE INDEX exam_orders_centre ON exam_orders(centre_id, status, id);
CREATE INDEX exam_orders_placer ON exam_orders(placer_institution_id, id);
CREATE INDEX exam_orders_resident ON exam_orders(resident_id, id);
-- the open imaging and ECG orders, each a Modality Worklist item
CREATE INDEX exam_orders_worklist ON exam_orders(id) WHERE study_uid IS NOT NULL AND status IN ('received', 'accepted', 'in-progress');

-- Each step of an order, timed; `staff_id` is empty for a step the laboratory's
-- results took (a laboratory order completed by its results).
CREATE TABLE exam_order_events (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES exam_orders(id),
    status TEXT NOT NULL,
    staff_id INTEGER REFERENCES staff(id),
    at_us INTEGER NOT NULL,
    note TEXT
);
CREATE INDEX exam_order_events_order ON exam_order_events(order_id, id);

-- Mutual recognition decisions (检查检验结果互认): a doctor shown a recognised,
-- in-window result either took it (`recognised`: a duplicate exam avoided) or ordered
-- again (`reordered`, with one of the six reasons and the order).
CREATE TABLE exam_recognitions (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    item_code TEXT NOT NULL,
    lab_result_id INTEGER NOT NULL REFERENCES lab_results(id),
    decision TEXT NOT NULL,
    reason TEXT,
    reason_text TEXT,
    order_id INTEGER REFERENCES exam_orders(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    at_us INTEGER NOT NULL
);
CREATE INDEX exam_recognitions_institution ON exam_recognitions(institution_id, at_us);

-- A laboratory result sent for a Gongti order (OBR-2 = its placer number).
ALTER TABLE lab_results ADD COLUMN exam_order_id INTEGER REFERENCES exam_orders(id);
CREATE INDEX lab_results_order ON lab_results(exam_order_id) WHERE exam_order_id IS NOT NULL;

-- Studies the PACS (Orthanc) reported stable, each matched to its order by the study
-- UID the worklist pre-assigned, else by accession number; one that matched no open
-- order is kept with no order. `orthanc_id` is Orthanc's id of the study, through
-- which Gongti fetches its images for those who may see them.
CREATE TABLE exam_studies (
    id INTEGER PRIMARY KEY,
    study_uid TEXT NOT NULL UNIQUE,
    orthanc_id TEXT NOT NULL,
    accession_number TEXT NOT NULL,
    order_id INTEGER REFERENCES exam_orders(id),
    resident_id INTEGER REFERENCES residents(id),
    modalities TEXT NOT NULL,
    description TEXT NOT NULL,
    instances INTEGER NOT NULL,
    received_at_us INTEGER NOT NULL
);
CREATE INDEX exam_studies_order ON exam_studies(order_id) WHERE order_id IS NOT NULL;

-- An imaging or ECG order's report (DOMAIN.md §8): preliminary (初审), final (审核签发,
-- by a qualified reader; by a second one where the modality's rule says), amended —
-- every version kept in exam_report_versions with who wrote or signed it.
CREATE TABLE exam_reports (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL UNIQUE REFERENCES exam_orders(id),
    status TEXT NOT NULL,
    findings TEXT NOT NULL,
    impression TEXT NOT NULL,
    author_staff_id INTEGER NOT NULL REFERENCES staff(id),
    signer_staff_id INTEGER REFERENCES staff(id),
    version INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL,
    signed_at_us INTEGER
);
CREATE TABLE exam_report_versions (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES exam_reports(id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    findings TEXT NOT NULL,
    impression TEXT NOT NULL,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    at_us INTEGER NOT NULL,
    UNIQUE (report_id, version)
);
