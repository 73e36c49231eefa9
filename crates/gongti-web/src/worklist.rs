//! The Modality Worklist folder (DOMAIN.md §8): every open imaging or ECG order is a
//! DICOM file `{accession}.wl` in the folder Orthanc's worklist plugin answers C-FIND
//! from, so the clinic's modality fetches its orders by MWL. The folder is brought in
//! line with the orders on start and every few seconds: a missing or changed file is
//! written (to a temporary name, then renamed, so the plugin never reads half a file),
//! one whose order closed is removed; each is audited before it is written or removed. Files not named like an item
//! (`*.wl`) are left alone.
//!
//! Why Orthanc's plugin rather than an MWL answer of our own: the DIMSE association,
//! negotiation and C-FIND matching are Orthanc's (and dcmtk's), tested against the
//! modalities in the field; Gongti only states what is scheduled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gongti_app::App;
use gongti_app::exam::orders::WorklistItem;

/// How often the folder is brought in line with the orders.
pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What a sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    pub written: Vec<String>,
    pub removed: Vec<String>,
}

fn is_item(name: &str) -> bool {
    name.ends_with(".wl") && !name.starts_with('.')
}

/// Brings `dir` in line with the open imaging and ECG orders.
pub async fn sync(app: &App, dir: &Path) -> anyhow::Result<Synced> {
    let items = app
        .worklist_items()
        .await
        .map_err(|e| anyhow::anyhow!("the worklist's orders: {e:?}"))?;
    let wanted: BTreeMap<&str, &WorklistItem> =
        items.iter().map(|i| (i.file_name.as_str(), i)).collect();
    tokio::fs::create_dir_all(dir).await?;
    let mut present = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(e) = entries.next_entry().await? {
        if let Some(name) = e.file_name().to_str().filter(|n| is_item(n)) {
            present.push(name.to_owned());
        }
    }
    let mut written = Vec::new();
    for (name, item) in &wanted {
        let path = dir.join(name);
        let same = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes == item.bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e.into()),
        };
        if same {
            continue;
        }
        // audited before it is written: a disclosure is never left unrecorded
        app.worklist_written(&[*item], &[])
            .await
            .map_err(|e| anyhow::anyhow!("auditing the worklist: {e:?}"))?;
        let temporary: PathBuf = dir.join(format!(".{name}.part"));
        tokio::fs::write(&temporary, &item.bytes).await?;
        tokio::fs::rename(&temporary, &path).await?;
        written.push(*item);
    }
    let mut removed = Vec::new();
    for name in present {
        if !wanted.contains_key(name.as_str()) {
            app.worklist_written(&[], std::slice::from_ref(&name))
                .await
                .map_err(|e| anyhow::anyhow!("auditing the worklist: {e:?}"))?;
            match tokio::fs::remove_file(dir.join(&name)).await {
                Ok(()) => removed.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Synced {
        written: written.iter().map(|w| w.file_name.clone()).collect(),
        removed,
    })
}

/// Keeps `dir` in line until `stop` turns true.
pub async fn serve_worklist(app: App, dir: PathBuf, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SYNC_EVERY);
    loop {
        let stop_now = async {
            let _ = stop.wait_for(|s| *s).await;
        };
        tokio::select! {
            () = stop_now => break,
            _ = every.tick() => {}
        }
        if let Err(e) = sync(&app, &dir).await {
            tracing::error!(error = %e, dir = %dir.display(), "the modality worklist folder");
        }
    }
}
