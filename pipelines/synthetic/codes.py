"""Code lists the generator draws from, with where each list came from.

Every code here is a public identifier; descriptions are our own short wording, never a licensed
descriptor. Sources:

- ICD-10-CM / ICD-10-PCS: CMS FY2024–FY2026 code files (cms.gov "ICD-10" pages). Codes are written
  without the dot, as claims carry them (E11.65 -> E1165).
- CPT / HCPCS: code numbers only (CPT descriptors are AMA-licensed); HCPCS Level II from the CMS
  quarterly HCPCS file; CPT II result codes (3044F...) as listed in the CMS122/CMS165 specifications.
- LOINC: loinc.org (free with notice); every code's check digit is verified by a test.
- SNOMED CT: concept ids as used in VSAC/eCQM value sets (Tuva's quality_measures value sets hold the
  same ids); no SNOMED descriptions are reproduced.
- MS-DRG: CMS MS-DRG v41 definitions manual (numbers only).
- NDC: FDA NDC Directory package codes, 10-digit label form converted to the 11-digit 5-4-2 claim form.
  Entries marked ``checked`` were cross-checked against DailyMed labels or several independent public
  listings; the rest are recalled brand package codes (format-valid; treat as illustrative).
- Revenue codes, bill types, POS, admit/discharge codes: NUBC UB-04 and CMS POS code sets
  (see /work/shared/reference/claims-primer.md).
"""

from __future__ import annotations

# Chronic conditions the population carries. Order matters: arrays in population.py follow it.
CONDITIONS = (
    "diabetes",
    "hypertension",
    "heart_failure",
    "copd",
    "asthma",
    "ckd",
    "depression",
    "smi",
    "cancer",
    "dementia",
)

# ICD-10-CM codes written on claims for each chronic condition (first code is the common one).
CONDITION_ICD10 = {
    "diabetes": ("E119", "E1165", "E1122", "E1140", "E1151"),
    "hypertension": ("I10", "I10", "I10", "I129"),
    "heart_failure": ("I5022", "I5032", "I5042", "I509"),
    "copd": ("J449", "J449", "J440"),
    "asthma": ("J45909", "J4530", "J4540", "J4550"),
    "ckd": ("N1831", "N1832", "N184", "N185"),
    "depression": ("F329", "F331", "F339", "F341"),
    "smi": ("F209", "F319", "F250"),
    "cancer": ("C50911", "C50912", "C189", "C3490", "C61"),
    "dementia": ("G309", "F0390", "F0150"),
}

# SNOMED CT concept ids for the same conditions on EHR problem lists.
CONDITION_SNOMED = {
    "diabetes": "44054006",
    "hypertension": "59621000",
    "heart_failure": "84114007",
    "copd": "13645005",
    "asthma": "195967001",
    "ckd": "709044004",
    "depression": "35489007",
    "smi": "58214004",
    "cancer": "363346000",
    "dementia": "52448006",
}

CONDITION_LABEL = {
    "diabetes": "type 2 diabetes",
    "hypertension": "essential hypertension",
    "heart_failure": "heart failure",
    "copd": "chronic obstructive lung disease",
    "asthma": "asthma",
    "ckd": "chronic kidney disease",
    "depression": "depressive disorder",
    "smi": "serious mental illness",
    "cancer": "malignant neoplasm",
    "dementia": "dementia",
}

# Acute-care principal-diagnosis classes for inpatient stays, ED visits and observation stays.
# name: (icd10 codes, ms-drg triple (w MCC, w CC, without), mean LOS days, relative weight,
#        surgical pcs code or "")
ADMIT_CLASSES = {
    "heart_failure": (("I5023", "I5033", "I5043"), ("291", "292", "293"), 4.6, 1.3, ""),
    "copd": (("J441", "J440"), ("190", "191", "192"), 3.9, 1.0, ""),
    "pneumonia": (("J189", "J189", "J1008"), ("193", "194", "195"), 4.3, 1.1, ""),
    "sepsis": (("A419", "A419", "A4151"), ("871", "872", "872"), 6.0, 1.9, ""),
    "diabetes_acute": (("E1165", "E11649", "E1110"), ("637", "638", "639"), 3.5, 0.9, ""),
    "ami": (("I214", "I214", "I2119"), ("280", "281", "282"), 4.0, 1.4, ""),
    "stroke": (("I639", "I6350", "I639"), ("064", "065", "066"), 4.5, 1.4, ""),
    "uti": (("N390", "N390", "N10"), ("689", "690", "690"), 3.6, 0.9, ""),
    "renal_failure": (("N179", "N179", "N170"), ("682", "683", "684"), 4.4, 1.1, ""),
    "gi_bleed": (("K922", "K921", "K922"), ("377", "378", "379"), 3.8, 1.1, ""),
    "cellulitis": (("L03115", "L03116", "L03113"), ("602", "603", "603"), 4.0, 0.9, ""),
    "syncope": (("R55", "R55", "R55"), ("312", "312", "312"), 2.6, 0.8, ""),
    "chest_pain": (("R079", "R0789", "R079"), ("313", "313", "313"), 1.8, 0.6, ""),
    "hip_fracture": (("S72001A", "S72002A", "S72001A"), ("480", "481", "482"), 5.5, 2.0, "0QS604Z"),
    "psychosis": (("F209", "F312", "F250"), ("885", "885", "885"), 8.0, 1.2, ""),
    "depression_acute": (("F332", "F329", "F332"), ("881", "881", "881"), 6.0, 0.9, ""),
    "dementia_acute": (("F0391", "G309", "F0391"), ("884", "884", "884"), 6.5, 1.1, ""),
    "asthma_acute": (("J45901", "J45901", "J45902"), ("202", "203", "203"), 2.8, 0.8, ""),
}

# Elective / planned admissions. The CMS HWR planned-readmission algorithm treats chemotherapy
# (CCS 45, Z5111) and transplant (CCS 105) as always planned, and arthroplasty / PCI as potentially
# planned when the principal diagnosis is not acute (Tuva seeds @31cd028d, from CMS 2021 HWR).
PLANNED_CLASSES = {
    "chemotherapy": (("Z5111",), ("846", "847", "848"), 2.5, 1.0, "3E04305"),
    "knee_replacement": (("M1711", "M1712"), ("469", "470", "470"), 2.0, 1.9, "0SRD0JZ"),
    "hip_replacement": (("M1611", "M1612"), ("469", "470", "470"), 2.2, 1.9, "0SR9019"),
    "pci_elective": (("I2510",), ("321", "322", "322"), 1.5, 1.8, "02703DZ"),
    "kidney_transplant": (("N186",), ("652", "652", "652"), 5.5, 3.0, "0TY00Z0"),
}

# Treat-and-release ED visits: principal diagnoses by rough national frequency (NHAMCS-like mix).
ED_DIAGNOSES = (
    "R079",
    "R109",
    "M5450",
    "J069",
    "S0990XA",
    "N390",
    "R519",
    "R42",
    "S93401A",
    "J45901",
    "R0602",
    "K5900",
    "L03115",
    "F419",
    "R739",
)

# Office-visit reasons when no chronic condition is coded first.
OFFICE_DIAGNOSES = ("Z0000", "J069", "M5450", "E785", "R5383", "Z23", "K219", "M25561")

# Evaluation and management (code numbers only).
OFFICE_EM = ("99213", "99214", "99214", "99215", "99212")
OFFICE_EM_NEW = ("99203", "99204")
ED_EM = ("99281", "99282", "99283", "99284", "99285")
IP_INITIAL = ("99221", "99222", "99223")
IP_SUBSEQUENT = ("99231", "99232", "99233")
IP_DISCHARGE = ("99238", "99239")
TCM = ("99495", "99496")
AWV = ("G0438", "G0439")
PREVENTIVE_ADULT = ("99395", "99396", "99397")

# CPT II result codes (CMS122 / CMS165 specifications).
CPT2_A1C = (("3044F", 0.0, 7.0), ("3051F", 7.0, 8.0), ("3052F", 8.0, 9.0001), ("3046F", 9.0001, 99))
CPT2_SBP = (("3074F", 0, 130), ("3075F", 130, 140), ("3077F", 140, 999))
CPT2_DBP = (("3078F", 0, 80), ("3079F", 80, 90), ("3080F", 90, 999))

# Screening services (CMS125 / CMS130 / CMS2 value-set families; code numbers only).
MAMMOGRAPHY = ("77067", "77067", "77063")
COLONOSCOPY = ("45378", "G0121", "45380")
FIT = ("82274", "G0328")
FIT_DNA = ("81528",)
DEPRESSION_SCREEN = ("G0444", "96127")
# A urine albumin-creatinine ratio is billed as two codes on one claim, quantitative urine albumin
# (82043) and urine creatinine (82570): there is no single CPT code for the ratio, and HEDIS KED
# counts the pair (within 4 days) as a uACR.
LAB_CPT = {
    "a1c": "83036",
    "lipid": "80061",
    "bmp": "80048",
    "uacr": "82043",
    "urine_creatinine": "82570",
    "venipuncture": "36415",
}
SURGERY_CPT = {
    "knee_replacement": "27447",
    "hip_replacement": "27130",
    "pci_elective": "92928",
    "hip_fracture": "27236",
    "chemotherapy": "96413",
    "kidney_transplant": "50360",
}

# ICD-10-PCS history procedures the EHR carries (dates may precede the claims window).
PCS_COLONOSCOPY = "0DJD8ZZ"

# LOINC codes (check digits verified by tests).
LOINC = {
    "a1c": ("4548-4", "hemoglobin a1c", "%"),
    "egfr": ("98979-8", "egfr ckd-epi 2021", "mL/min/1.73m2"),
    "egfr_mdrd": ("33914-3", "egfr mdrd", "mL/min/1.73m2"),
    "creatinine": ("2160-0", "creatinine serum", "mg/dL"),
    "uacr": ("9318-7", "albumin/creatinine urine ratio", "mg/g"),
    "ldl": ("13457-7", "ldl cholesterol calculated", "mg/dL"),
    "sbp": ("8480-6", "systolic blood pressure", "mm[Hg]"),
    "dbp": ("8462-4", "diastolic blood pressure", "mm[Hg]"),
    "phq9": ("44261-6", "phq-9 total score", "{score}"),
    "depression_screen": ("73832-8", "adult depression screening", "{score}"),
    "fit": ("29771-3", "fecal immunochemical test", ""),
    "bmi": ("39156-5", "body mass index", "kg/m2"),
}

# SNOMED procedure ids for EHR-recorded screenings.
SNOMED_PROC = {
    "mammography": "24623002",
    "colonoscopy": "73761001",
    "depression_screen": "715252007",
}

# Drugs: class -> tuple of (ndc11, name, days supply, quantity, checked)
DRUGS = {
    "metformin": (
        ("65841080901", "metformin 500 mg tablet", 30, 60, True),
        ("65841081101", "metformin 1000 mg tablet", 90, 180, True),
    ),
    "sulfonylurea": (("00049411066", "glipizide 5 mg tablet", 30, 30, False),),
    "dpp4": (("00006027731", "sitagliptin 100 mg tablet", 30, 30, True),),
    "sglt2": (("00597015230", "empagliflozin 10 mg tablet", 30, 30, False),),
    "insulin": (("00088222033", "insulin glargine 100 unit/mL vial", 30, 10, True),),
    "ras": (
        ("00006095254", "losartan 50 mg tablet", 90, 90, True),
        ("00006010658", "lisinopril 10 mg tablet", 30, 30, False),
    ),
    "statin": (
        ("00071015523", "atorvastatin 10 mg tablet", 30, 30, True),
        ("00310075190", "rosuvastatin 10 mg tablet", 90, 90, True),
        ("00006074031", "simvastatin 20 mg tablet", 30, 30, False),
    ),
    "inhaler_reliever": (("00173068220", "albuterol hfa inhaler", 25, 18, True),),
    "inhaler_controller": (
        ("00173069600", "fluticasone/salmeterol 250/50 inhaler", 30, 1, True),
        ("00597007541", "tiotropium 18 mcg inhalation capsule", 30, 30, False),
    ),
    "antidepressant": (
        ("00049490066", "sertraline 50 mg tablet", 30, 30, True),
        ("00456201001", "escitalopram 10 mg tablet", 30, 30, True),
    ),
    "dementia_drug": (("62856024630", "donepezil 10 mg tablet", 30, 30, False),),
}

# Revenue codes (NUBC): 4 digits with the leading zero.
REV_ROOM_BOARD = "0120"
REV_PHARMACY = "0250"
REV_LAB = "0300"
REV_RADIOLOGY = "0320"
REV_OR = "0360"
REV_ED = "0450"
REV_CLINIC = "0510"
REV_OBSERVATION = "0762"
REV_SNF_HIPPS = "0022"
REV_HH_HIPPS = "0023"
REV_HH_NURSING = "0551"
REV_PT = "0420"
REV_HOSPICE = "0651"

# Names for the synthetic people (common US given names and Census-frequent surnames).
FIRST_NAMES_F = [
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Lisa",
    "Nancy",
    "Betty",
    "Sandra",
    "Margaret",
    "Ashley",
    "Kimberly",
    "Emily",
    "Donna",
    "Michelle",
    "Maria",
    "Rosa",
    "Ana",
    "Mei",
    "Linh",
    "Aisha",
    "Keisha",
    "Dorothy",
    "Helen",
    "Ruth",
    "Carol",
    "Gloria",
]
FIRST_NAMES_M = [
    "James",
    "Robert",
    "John",
    "Michael",
    "David",
    "William",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Christopher",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Paul",
    "Andrew",
    "Joshua",
    "Jose",
    "Carlos",
    "Luis",
    "Wei",
    "Minh",
    "Darnell",
    "Jamal",
    "George",
    "Kenneth",
    "Edward",
    "Ronald",
    "Frank",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Chen",
    "Tran",
]

# A single metro region (Columbus, Ohio 432xx ZIPs). deprivation is a 0..1 area-deprivation score
# we assign for the simulation, not a published index value.
ZIPS = (
    ("43201", "Columbus", 39.990, -83.000, 0.55),
    ("43203", "Columbus", 39.972, -82.968, 0.85),
    ("43205", "Columbus", 39.957, -82.964, 0.75),
    ("43206", "Columbus", 39.940, -82.975, 0.60),
    ("43207", "Columbus", 39.897, -82.966, 0.80),
    ("43211", "Columbus", 40.011, -82.973, 0.85),
    ("43213", "Whitehall", 39.970, -82.870, 0.70),
    ("43214", "Columbus", 40.052, -83.019, 0.25),
    ("43215", "Columbus", 39.967, -83.007, 0.40),
    ("43219", "Columbus", 40.003, -82.925, 0.75),
    ("43220", "Columbus", 40.049, -83.067, 0.20),
    ("43221", "Upper Arlington", 40.022, -83.078, 0.10),
    ("43223", "Columbus", 39.938, -83.041, 0.85),
    ("43224", "Columbus", 40.041, -82.963, 0.70),
    ("43228", "Columbus", 39.953, -83.125, 0.55),
    ("43229", "Columbus", 40.086, -82.976, 0.55),
    ("43230", "Gahanna", 40.034, -82.871, 0.25),
    ("43232", "Columbus", 39.923, -82.866, 0.65),
    ("43235", "Columbus", 40.103, -83.056, 0.15),
    ("43081", "Westerville", 40.111, -82.925, 0.15),
    ("43016", "Dublin", 40.101, -83.152, 0.05),
    ("43123", "Grove City", 39.882, -83.094, 0.30),
    ("43068", "Reynoldsburg", 39.955, -82.803, 0.40),
    ("43110", "Canal Winchester", 39.846, -82.805, 0.25),
)
