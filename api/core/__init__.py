"""What every other part of the API stands on: settings, the database, problem details."""
