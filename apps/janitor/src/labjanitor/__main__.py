from labjanitor.cli import main

raise SystemExit(main())
