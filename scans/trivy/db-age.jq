# How old trivy's vulnerability DB is, from `trivy version --format json`.
# In: trivy's version report ({"Version", "VulnerabilityDB": {"Version", "UpdatedAt", "NextUpdate", "DownloadedAt"}});
#     $max_days (number): the oldest DB build the gate accepts, in days (TRIVY_DB_MAX_AGE_DAYS).
# Out: {"vulnerability_db": {"updated_at", "next_update", "downloaded_at", "age_days", "max_age_days"},
#       "problem": null, or one line naming the DB's build date when it is older than $max_days}.
#      A report without the DB's build date is an error: the DB's age could not be checked.
include "lib";

# epoch: an RFC 3339 time in UTC (trivy writes nanoseconds, jq's parser takes none) as seconds since 1970.
def epoch: sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601;

expect(type == "object" and (.VulnerabilityDB | type) == "object";
       "trivy reports no vulnerability DB (was it downloaded?)")
| .VulnerabilityDB as $db
| expect(($db.UpdatedAt | type) == "string" and ($db.UpdatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"));
         "trivy's vulnerability DB has no build date (UpdatedAt)")
| ((now - ($db.UpdatedAt | epoch)) / 86400 | floor) as $age
| {
    vulnerability_db: {updated_at: $db.UpdatedAt, next_update: $db.NextUpdate, downloaded_at: $db.DownloadedAt,
                       age_days: $age, max_age_days: $max_days},
    problem: (if $age > $max_days
              then "trivy's vulnerability DB was built \($db.UpdatedAt) (\($age) days ago), older than TRIVY_DB_MAX_AGE_DAYS=\($max_days): vulnerabilities published since are not known to it (let trivy update it: unset TRIVY_SKIP_DB_UPDATE and TRIVY_OFFLINE_SCAN, or refresh TRIVY_CACHE_DIR)"
              else null end)
  }
