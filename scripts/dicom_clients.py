"""A clinic's ECG cart and DR, and a viewer, with the DICOM tools their integrators
use (PyPI `pydicom` and `dicomweb-client`), against a demo region that keeps its
modality worklist in a folder and follows a real Orthanc (scripts/dicom-clients.sh
starts both and passes the tokens).

- pydicom reads the demo's worklist files (Gongti's own Part 10 encoder) as the carts
  would get them, and makes a 12-lead ECG (a made-up heart, 10 s at 500 Hz, no
  personal data) and a small chest image with the worklist's values;
- the clinic's gateway stores them in the PACS with STOW-RS (dicomweb-client, the
  PACS's own credential);
- the viewer, with the family doctor's Gongti token only, waits for Gongti to take
  each study (QIDO-RS by accession number through Gongti: the study-to-worklist time
  is printed), then reads the metadata, retrieves the ECG and decodes its 12 leads,
  and fetches the chest image rendered; another institution's doctor is refused.

Prints one line per task and exits non-zero on the first that fails.
"""
import glob
import math
import os
import sys
import time

import numpy as np
import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

BASE = os.environ["GONGTI_BASE"]
WORKLISTS = os.environ["GONGTI_WORKLIST_DIR"]
PACS = os.environ["GONGTI_TEST_ORTHANC_URL"]
PACS_AUTH = (os.environ["GONGTI_TEST_ORTHANC_USER"], os.environ["GONGTI_TEST_ORTHANC_PASSWORD"])
DOCTOR = os.environ["GONGTI_DOCTOR_TOKEN"]
OTHER = os.environ["GONGTI_OTHER_TOKEN"]

TWELVE_LEAD = "1.2.840.10008.5.1.4.1.1.9.1.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
LEADS = [("I", 0.6), ("II", 1.0), ("III", 0.4), ("aVR", -0.8), ("aVL", 0.1), ("aVF", 0.7),
         ("V1", -0.5), ("V2", 0.3), ("V3", 0.8), ("V4", 1.2), ("V5", 1.1), ("V6", 0.9)]
HZ, SECONDS, SENSITIVITY_UV = 500, 10, 2.5


def task(name):
    print(f"ok  {name}", flush=True)


def fail(name, detail):
    print(f"FAIL {name}: {detail}", flush=True)
    sys.exit(1)


def client(token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return DICOMwebClient(url=f"{BASE}/dicom-web", session=session)


def worklist_items():
    items = {}
    for path in sorted(glob.glob(os.path.join(WORKLISTS, "*.wl"))):
        ds = pydicom.dcmread(path)
        step = ds.ScheduledProcedureStepSequence[0]
        items[step.Modality] = ds
    return items


def base_dataset(item, sop_class, modality):
    ds = Dataset()
    # a Part 10 file as a modality writes it: the preamble and DICM before the meta
    ds.preamble = b"\0" * 128
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = item.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.AccessionNumber = item.AccessionNumber
    ds.PatientID = item.PatientID
    ds.PatientName = item.PatientName
    ds.Modality = modality
    ds.StudyDescription = item.ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    return ds


def beat_uv(t):
    def bump(centre, width, height):
        return height * math.exp(-(((t - centre) / width) ** 2))
    return (bump(-0.16, 0.025, 150) + bump(-0.02, 0.008, -120) + bump(0.0, 0.012, 1100)
            + bump(0.025, 0.01, -250) + bump(0.28, 0.045, 300))


def ecg(item):
    ds = base_dataset(item, TWELVE_LEAD, "ECG")
    samples = HZ * SECONDS
    beat = 60 / 75
    data = np.zeros((samples, len(LEADS)), dtype="<i2")
    for s in range(samples):
        since = (s / HZ - 0.4) % beat
        since = since - beat if since > beat / 2 else since
        uv = beat_uv(since)
        for c, (_, gain) in enumerate(LEADS):
            data[s, c] = round(uv * gain / SENSITIVITY_UV)
    group = Dataset()
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(LEADS)
    group.NumberOfWaveformSamples = samples
    group.SamplingFrequency = HZ
    channels = []
    for n, (lead, _) in enumerate(LEADS, start=1):
        ch = Dataset()
        ch.WaveformChannelNumber = n
        source = Dataset()
        source.CodeValue = f"5.6.3-9-{n}"
        source.CodingSchemeDesignator = "SCPECG"
        source.CodeMeaning = f"Lead {lead}"
        ch.ChannelSourceSequence = Sequence([source])
        units = Dataset()
        units.CodeValue = "uV"
        units.CodingSchemeDesignator = "UCUM"
        units.CodeMeaning = "microvolt"
        ch.ChannelSensitivity = SENSITIVITY_UV
        ch.ChannelSensitivityUnitsSequence = Sequence([units])
        ch.ChannelSensitivityCorrectionFactor = 1
        ch.ChannelBaseline = 0
        ch.WaveformBitsStored = 16
        channels.append(ch)
    group.ChannelDefinitionSequence = Sequence(channels)
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.WaveformData = data.tobytes()
    ds.WaveformSequence = Sequence([group])
    return ds


def chest(item):
    ds = base_dataset(item, SECONDARY_CAPTURE, "DX")
    ds.ConversionType = "WSD"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes((x + y) * 2 for y in range(64) for x in range(64))
    return ds


def wait_taken(viewer, accession):
    start = time.monotonic()
    while time.monotonic() - start < 60:
        found = viewer.search_for_studies(search_filters={"AccessionNumber": accession})
        if found:
            return found, time.monotonic() - start
        time.sleep(0.2)
    fail("taken", f"{accession} did not reach Gongti in 60 s")


def main():
    items = worklist_items()
    if "ECG" not in items or "DX" not in items:
        fail("worklist", f"the demo's worklist holds {sorted(items)}")
    task(f"pydicom reads Gongti's worklist files: {sorted(items)} for {items['ECG'].PatientID}")

    gateway = DICOMwebClient(url=f"{PACS}/dicom-web")
    gateway._session.auth = PACS_AUTH
    viewer = client(DOCTOR)
    for modality, make in (("ECG", ecg), ("DX", chest)):
        item = items[modality]
        ds = make(item)
        gateway.store_instances(datasets=[ds])
        task(f"STOW-RS to the PACS: {modality} {item.AccessionNumber}")
        found, waited = wait_taken(viewer, item.AccessionNumber)
        uid = found[0]["0020000D"]["Value"][0]
        if uid != item.StudyInstanceUID:
            fail("qido", f"{uid} is not the worklist's {item.StudyInstanceUID}")
        retrieve = found[0].get("00081190", {}).get("Value", [""])[0]
        if not retrieve.startswith(f"{BASE}/dicom-web/"):
            fail("qido", f"the retrieve URL {retrieve!r} is not Gongti's")
        task(f"QIDO-RS through Gongti finds it {waited:.2f} s after it was stored")

    ecg_item = items["ECG"]
    by_patient = viewer.search_for_studies(search_filters={"PatientID": ecg_item.PatientID})
    if len(by_patient) < 2:
        fail("qido by patient", by_patient)
    task(f"QIDO-RS by patient: {len(by_patient)} studies")
    metadata = viewer.retrieve_study_metadata(ecg_item.StudyInstanceUID)
    if not metadata or "54000100" not in metadata[0]:
        fail("metadata", "no WaveformSequence in the ECG's metadata")
    task("WADO-RS metadata of the ECG names its WaveformSequence")
    instances = viewer.retrieve_study(ecg_item.StudyInstanceUID)
    leads = instances[0].waveform_array(0)
    if leads.shape != (HZ * SECONDS, len(LEADS)):
        fail("ecg", f"waveform of shape {leads.shape}")
    lead_ii = leads[:, 1]
    if not 1000 < lead_ii.max() < 1200:
        fail("ecg", f"lead II peaks at {lead_ii.max()} uV")
    task(f"WADO-RS retrieves the ECG: {leads.shape[1]} leads × {leads.shape[0]} samples, lead II R {lead_ii.max():.0f} µV")

    dx = items["DX"]
    series = viewer.search_for_series(dx.StudyInstanceUID)
    series_uid = series[0]["0020000E"]["Value"][0]
    inst = viewer.search_for_instances(dx.StudyInstanceUID, series_uid)
    sop = inst[0]["00080018"]["Value"][0]
    png = viewer.retrieve_instance_rendered(dx.StudyInstanceUID, series_uid, sop, media_types=("image/png",))
    if not png.startswith(b"\x89PNG"):
        fail("rendered", png[:16])
    task("WADO-RS rendered chest image as PNG")

    other = client(OTHER)
    for name, call in (
        ("search", lambda: other.search_for_studies(search_filters={"PatientID": ecg_item.PatientID})),
        ("retrieve", lambda: other.retrieve_study_metadata(ecg_item.StudyInstanceUID)),
    ):
        try:
            call()
            fail("refused", f"another institution's doctor could {name}")
        except requests.HTTPError as e:
            if e.response.status_code != 403:
                fail("refused", f"{name}: {e.response.status_code}")
    task("another institution's doctor is refused (403) searching and retrieving")
    print("dicom clients: all tasks passed")


if __name__ == "__main__":
    main()
